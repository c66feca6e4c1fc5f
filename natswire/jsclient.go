package natswire

import (
	"errors"
	"reflect"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/nats-io/nats-server/v2/server"
)

// A JetStream delivery differs from an ordinary publish in two ways that a
// client connection cannot express: it is routed on the consumer's deliver
// subject while the receiver sees the message's original subject, and its
// reply subject is a reserved $JS.ACK subject, which nats-server refuses
// from client connections. nats-server does both with an internal client
// of kind JETSTREAM. rewire creates such a client in each tenant account
// through the server's unexported functions, bound below by linkname to
// the pinned nats-server v2.15.3, and fills its publish arguments by field
// offsets found by reflection at run time. If any piece is missing the
// host falls back to plain publishes (see host.deliver).

//go:linkname nsCreateInternalClient github.com/nats-io/nats-server/v2/server.(*Server).createInternalClient
func nsCreateInternalClient(s *server.Server, kind int) unsafe.Pointer

//go:linkname nsRegisterWithAccount github.com/nats-io/nats-server/v2/server.(*client).registerWithAccount
func nsRegisterWithAccount(c unsafe.Pointer, acc *server.Account) error

//go:linkname nsProcessInboundClientMsg github.com/nats-io/nats-server/v2/server.(*client).processInboundClientMsg
func nsProcessInboundClientMsg(c unsafe.Pointer, msg []byte) (bool, bool)

//go:linkname nsFlushClients github.com/nats-io/nats-server/v2/server.(*client).flushClients
func nsFlushClients(c unsafe.Pointer, budget time.Duration) time.Time

//go:linkname nsCloseConnection github.com/nats-io/nats-server/v2/server.(*client).closeConnection
func nsCloseConnection(c unsafe.Pointer, reason server.ClosedState)

// kindJetStream is nats-server's JETSTREAM client kind.
const kindJetStream = server.JETSTREAM

// paLayout holds the offsets of the publish-argument fields inside
// nats-server's client struct.
type paLayout struct {
	subject, deliver, reply, szb, hdb, size, hdr uintptr
}

var (
	layoutOnce sync.Once
	layout     *paLayout
	layoutType reflect.Type
	layoutMu   sync.Mutex
)

// learnClientType records the dynamic type of nats-server's client, seen
// by the authenticator, so that field offsets can be computed.
func learnClientType(c server.ClientAuthentication) {
	layoutMu.Lock()
	defer layoutMu.Unlock()
	if layoutType == nil {
		layoutType = reflect.TypeOf(c)
	}
}

func clientLayout() *paLayout {
	layoutOnce.Do(func() {
		layoutMu.Lock()
		t := layoutType
		layoutMu.Unlock()
		if t == nil || t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
			return
		}
		pa, ok := t.Elem().FieldByName("pa")
		if !ok || pa.Type.Kind() != reflect.Struct {
			return
		}
		// pa may be promoted from an embedded struct: sum the offsets
		// along its index path.
		var paOff uintptr
		st := t.Elem()
		for _, i := range pa.Index {
			f := st.Field(i)
			paOff += f.Offset
			st = f.Type
		}
		pa.Offset = paOff
		var l paLayout
		for name, dst := range map[string]*uintptr{
			"subject": &l.subject, "deliver": &l.deliver, "reply": &l.reply,
			"szb": &l.szb, "hdb": &l.hdb, "size": &l.size, "hdr": &l.hdr,
		} {
			f, ok := pa.Type.FieldByName(name)
			if !ok {
				return
			}
			want := reflect.TypeOf([]byte(nil))
			if name == "size" || name == "hdr" {
				want = reflect.TypeOf(0)
			}
			if f.Type != want {
				return
			}
			*dst = pa.Offset + f.Offset
		}
		layout = &l
	})
	return layout
}

// jsClient sends deliveries into one account as nats-server's JetStream
// does. Methods are safe for concurrent use.
type jsClient struct {
	mu  sync.Mutex // serialises use of the internal client
	c   unsafe.Pointer
	l   *paLayout
	buf []byte
	// unflushed counts deliveries since the last flush.
	unflushed int
}

var errNoJSClient = errors.New("internal jetstream client unavailable")

func newJSClient(ns *server.Server, acc *server.Account) (jc *jsClient, err error) {
	l := clientLayout()
	if l == nil {
		return nil, errNoJSClient
	}
	defer func() {
		if p := recover(); p != nil {
			jc, err = nil, errNoJSClient
		}
	}()
	c := nsCreateInternalClient(ns, kindJetStream)
	if c == nil {
		return nil, errNoJSClient
	}
	if err := nsRegisterWithAccount(c, acc); err != nil {
		return nil, err
	}
	return &jsClient{c: c, l: l}, nil
}

func (j *jsClient) field(off uintptr) *[]byte { return (*[]byte)(unsafe.Add(j.c, off)) }
func (j *jsClient) intField(off uintptr) *int { return (*int)(unsafe.Add(j.c, off)) }

// send routes a message on dsubj, presenting subj to the receiver.
func (j *jsClient) send(dsubj, subj, reply string, hdr, data []byte) {
	j.mu.Lock()
	defer j.mu.Unlock()
	size := len(hdr) + len(data)
	*j.field(j.l.subject) = []byte(dsubj)
	*j.field(j.l.deliver) = []byte(subj)
	if reply != "" {
		*j.field(j.l.reply) = []byte(reply)
	} else {
		*j.field(j.l.reply) = nil
	}
	*j.intField(j.l.size) = size
	*j.field(j.l.szb) = strconv.AppendInt(nil, int64(size), 10)
	if len(hdr) > 0 {
		*j.intField(j.l.hdr) = len(hdr)
		*j.field(j.l.hdb) = strconv.AppendInt(nil, int64(len(hdr)), 10)
	} else {
		*j.intField(j.l.hdr) = -1
		*j.field(j.l.hdb) = nil
	}
	msg := append(append(append(j.buf[:0], hdr...), data...), "\r\n"...)
	nsProcessInboundClientMsg(j.c, msg)
	*j.field(j.l.subject), *j.field(j.l.deliver), *j.field(j.l.szb) = nil, nil, nil
	if cap(msg) <= 1<<20 {
		j.buf = msg[:0]
	}
	j.unflushed++
	if j.unflushed >= 256 {
		j.flushLocked()
	}
}

// flush hands queued deliveries to the receiving connections.
func (j *jsClient) flush() {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.flushLocked()
}

func (j *jsClient) flushLocked() {
	if j.c != nil && j.unflushed > 0 {
		nsFlushClients(j.c, 0)
		j.unflushed = 0
	}
}

func (j *jsClient) close() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.c != nil {
		nsCloseConnection(j.c, server.ClientClosed)
		j.c = nil
	}
}
