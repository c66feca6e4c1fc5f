package natswire

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// kvScript drives a KV bucket through nats.go and describes every
// result: puts, deletes, purges, compare-and-set, the watcher variants,
// keys, history and status.
func kvScript(t *testing.T, nc *nats.Conn) []string {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	js, _ := jetstream.New(nc)
	var out []string
	log := func(f string, a ...any) { out = append(out, fmt.Sprintf(f, a...)) }
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "B", History: 4})
	log("create %v", err)
	for i, k := range []string{"a", "b", "a", "c.d", "a"} {
		r, err := kv.Put(ctx, k, []byte(fmt.Sprint(i)))
		log("put %s %d %v", k, r, err)
	}
	log("del %v", kv.Delete(ctx, "b"))
	log("purge %v", kv.Purge(ctx, "c.d"))
	r, err := kv.Update(ctx, "a", []byte("u"), 5)
	log("update %d %v", r, err)
	r, err = kv.Create(ctx, "b", []byte("again"))
	log("create b %d %v", r, err)
	watch := func(name string, opts ...jetstream.WatchOpt) {
		w, err := kv.WatchAll(ctx, opts...)
		if err != nil {
			log("%s: %v", name, err)
			return
		}
		defer w.Stop()
		for {
			select {
			case e := <-w.Updates():
				if e == nil {
					log("%s: init done", name)
					return
				}
				log("%s: %s %s %q rev=%d delta=%d", name, e.Operation(), e.Key(), e.Value(), e.Revision(), e.Delta())
			case <-time.After(3 * time.Second):
				log("%s: timeout", name)
				return
			}
		}
	}
	watch("all")
	watch("history", jetstream.IncludeHistory())
	watch("nodeletes", jetstream.IgnoreDeletes())
	watch("meta", jetstream.MetaOnly())
	keys, err := kv.ListKeys(ctx)
	if err == nil {
		for k := range keys.Keys() {
			log("key %s", k)
		}
	}
	h, err := kv.History(ctx, "a")
	for _, e := range h {
		log("hist %s %q %d", e.Operation(), e.Value(), e.Revision())
	}
	log("hist err %v", err)
	st, err := kv.Status(ctx)
	if err == nil {
		log("status values=%d history=%d bytes=%d", st.Values(), st.History(), st.Bytes())
	}
	return out
}

// objScript drives an object store through nats.go: chunked puts and
// gets, replacement, links, listing, deletes, status and sealing.
func objScript(t *testing.T, nc *nats.Conn) []string {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	js, _ := jetstream.New(nc)
	var out []string
	log := func(f string, a ...any) { out = append(out, fmt.Sprintf(f, a...)) }
	obs, err := js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: "O", Description: "d"})
	log("create %v", err)
	data := make([]byte, 300000)
	for i := range data {
		data[i] = byte(i * 7)
	}
	info, err := obs.PutBytes(ctx, "x", data)
	if err == nil {
		log("put %s %d %d %s", info.Name, info.Size, info.Chunks, info.Digest)
	}
	info, err = obs.PutBytes(ctx, "x", data[:1000])
	if err == nil {
		log("put2 %s %d %d %s", info.Name, info.Size, info.Chunks, info.Digest)
	}
	got, err := obs.GetBytes(ctx, "x")
	log("get %d %v", len(got), err)
	_, err = obs.AddLink(ctx, "lnk", info)
	log("link %v", err)
	got, err = obs.GetBytes(ctx, "lnk")
	log("get link %d %v", len(got), err)
	lst, err := obs.List(ctx)
	for _, o := range lst {
		log("list %s %d %v", o.Name, o.Size, o.Opts != nil && o.Opts.Link != nil)
	}
	log("list err %v", err)
	log("delete %v", obs.Delete(ctx, "x"))
	_, err = obs.GetBytes(ctx, "x")
	log("get deleted %v", err)
	st, err := obs.Status(ctx)
	if err == nil {
		log("status %d %v %s", st.Size(), st.Sealed(), st.Description())
	}
	log("seal %v", obs.Seal(ctx))
	_, err = obs.PutBytes(ctx, "y", []byte("z"))
	log("put sealed %v", err)
	return out
}

// TestDifferentialKVAndObjects runs the same nats.go KV and object store
// calls against a standalone nats-server and rewire and compares what
// each call returned, watcher updates included.
func TestDifferentialKVAndObjects(t *testing.T) {
	ref := startReference(t)
	refNC, err := nats.Connect(ref.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(refNC.Close)
	e := newEnv(t, "acme")
	rw := e.connect(t, "acme")
	a, b := kvScript(t, refNC), kvScript(t, rw)
	a = append(a, objScript(t, refNC)...)
	b = append(b, objScript(t, rw)...)
	if !reflect.DeepEqual(a, b) {
		for i := 0; i < max(len(a), len(b)); i++ {
			var x, y string
			if i < len(a) {
				x = a[i]
			}
			if i < len(b) {
				y = b[i]
			}
			if x != y {
				t.Errorf("call %d:\n  nats-server: %s\n  rewire:      %s", i, x, y)
			}
		}
	}
}
