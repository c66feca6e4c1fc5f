package kafkawire

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"

	"rewire/storage"
)

func init() {
	storage.RegisterSchema("kafkawire", schema)
}

// schema is kafkawire's part of every tenant database.
//
//   - kafka_topics: one row per topic; its partitions are the core logs
//     kafka/<name>/<index>. configs holds the topic's non-default configs.
//   - kafka_offsets: committed consumer-group offsets.
//   - kafka_producers: idempotent-producer state per partition log: the
//     epoch and the last batches (JSON) for duplicate detection.
//   - kafka_txn_open: the first offset of each open transaction per
//     partition log (bounds the last stable offset).
//   - kafka_aborted: aborted transactions' offset ranges per partition log,
//     for read_committed fetches.
const schema = `
CREATE TABLE IF NOT EXISTS kafka_topics (
	name       TEXT PRIMARY KEY,
	id         BLOB NOT NULL,
	partitions INTEGER NOT NULL,
	configs    TEXT NOT NULL DEFAULT '{}'
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS kafka_offsets (
	grp      TEXT NOT NULL,
	topic    TEXT NOT NULL,
	part     INTEGER NOT NULL,
	offset   INTEGER NOT NULL,
	epoch    INTEGER NOT NULL,
	metadata TEXT,
	PRIMARY KEY (grp, topic, part)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS kafka_txn_open (
	log   TEXT NOT NULL,
	pid   INTEGER NOT NULL,
	first INTEGER NOT NULL,
	PRIMARY KEY (log, pid)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS kafka_aborted (
	log   TEXT NOT NULL,
	pid   INTEGER NOT NULL,
	first INTEGER NOT NULL,
	last  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS kafka_aborted_by_log ON kafka_aborted(log, last);
CREATE TABLE IF NOT EXISTS kafka_producers (
	log     TEXT NOT NULL,
	pid     INTEGER NOT NULL,
	epoch   INTEGER NOT NULL,
	batches TEXT NOT NULL,
	ts      INTEGER NOT NULL,
	PRIMARY KEY (log, pid)
) WITHOUT ROWID;
`

// broker is one tenant's Kafka state: its topics and group coordinator.
// Connections of the tenant share it.
type broker struct {
	s    *Server
	name string
	t    *storage.Tenant
	refs int // guarded by Server.mu

	admin sync.Mutex // serialises topic creation, deletion and growth

	mu     sync.RWMutex // guards topics
	topics map[string]*topic

	// topicsGen is the tenant's TopicsGeneration the topics were last
	// loaded at; syncMu serialises reloads.
	topicsGen atomic.Uint64
	syncMu    sync.Mutex

	groups *coordinator
	pids   *producerIDs
	txns   *txnCoordinator
}

// topic is one topic; its fields change only under broker.admin and are
// replaced, not mutated, so readers holding a *topic see a consistent view.
type topic struct {
	name    string
	id      [16]byte
	parts   []*partition
	configs map[string]string
}

// partition is one topic partition backed by a core log.
type partition struct {
	topic *topic
	index int32
	log   *storage.Log
	// seqs is the idempotent-producer state; only batch Check functions
	// touch it, and they run serialised on the tenant's committer.
	seqs      map[int64]*producerState
	nextPrune int64 // unix ms; when seqs is next scanned for expiry
	app       appender

	txMu   sync.Mutex      // guards txOpen
	txOpen map[int64]int64 // producer id -> first offset of its open transaction
}

func newPartition(tp *topic, i int32, l *storage.Log) *partition {
	return &partition{topic: tp, index: i, log: l, seqs: map[int64]*producerState{}, txOpen: map[int64]int64{}}
}

func logName(topic string, p int32) string {
	return "kafka/" + topic + "/" + strconv.Itoa(int(p))
}

func openBroker(ctx context.Context, s *Server, tenant string) (*broker, error) {
	t, err := s.store.Acquire(ctx, tenant)
	if err != nil {
		return nil, fmt.Errorf("acquire tenant: %w", err)
	}
	b := &broker{s: s, name: tenant, t: t, topics: make(map[string]*topic)}
	b.groups = newCoordinator(b)
	b.pids = &producerIDs{}
	if err := b.loadTopics(ctx); err != nil {
		t.Release()
		return nil, err
	}
	if err := b.loadTxns(ctx); err != nil {
		t.Release()
		return nil, err
	}
	return b, nil
}

func (b *broker) close() {
	b.groups.close()
	b.stopTxnTimers()
	b.t.Release()
}

// TopicsGeneration names the tenant generation counter (see
// storage.Tenant.Generation) that other interfaces of the process bump
// after changing the tenant's Kafka topics behind kafkawire's back, such
// as the HTTP API's streams.create and streams.delete.
const TopicsGeneration = "kafka.topics"

func (b *broker) loadTopics(ctx context.Context) error {
	b.topicsGen.Store(b.t.Generation(TopicsGeneration))
	topics, err := b.readTopics(ctx, nil)
	if err != nil {
		return err
	}
	b.topics = topics
	return nil
}

// readTopics reads every topic row. A topic of have with the same id and
// partition count is kept as it is, so its partitions keep their
// producer and transaction state.
func (b *broker) readTopics(ctx context.Context, have map[string]*topic) (map[string]*topic, error) {
	rows, err := b.t.DB().QueryContext(ctx, `SELECT name, id, partitions, configs FROM kafka_topics`)
	if err != nil {
		return nil, fmt.Errorf("load topics: %w", err)
	}
	defer rows.Close()
	topics := make(map[string]*topic)
	for rows.Next() {
		var name, cfg string
		var id []byte
		var n int32
		if err := rows.Scan(&name, &id, &n, &cfg); err != nil {
			return nil, err
		}
		if old := have[name]; old != nil && bytes.Equal(old.id[:], id) && len(old.parts) == int(n) {
			topics[name] = old
			continue
		}
		tp := &topic{name: name, configs: map[string]string{}}
		copy(tp.id[:], id)
		json.Unmarshal([]byte(cfg), &tp.configs)
		for i := range n {
			l, err := b.t.Logs().Open(ctx, logName(name, i))
			if err != nil {
				return nil, fmt.Errorf("topic %s: %w", name, err)
			}
			tp.parts = append(tp.parts, newPartition(tp, i, l))
		}
		topics[name] = tp
	}
	return topics, rows.Err()
}

// syncTopics reloads the topics when another interface has changed them
// since they were loaded; the check is one atomic load.
func (b *broker) syncTopics() {
	gen := b.t.Generation(TopicsGeneration)
	if gen == b.topicsGen.Load() {
		return
	}
	b.syncMu.Lock()
	defer b.syncMu.Unlock()
	if gen == b.topicsGen.Load() {
		return
	}
	b.mu.RLock()
	have := make(map[string]*topic, len(b.topics))
	for name, tp := range b.topics {
		have[name] = tp
	}
	b.mu.RUnlock()
	topics, err := b.readTopics(b.s.ctx, have)
	if err != nil {
		b.s.log.Warn("reload kafka topics", "tenant", b.name, "err", err)
		return
	}
	b.mu.Lock()
	// kafkawire's own changes made since the snapshot win over what the
	// read saw: topics created, grown or deleted meanwhile.
	for name, cur := range b.topics {
		if have[name] != cur {
			topics[name] = cur
		}
	}
	for name := range have {
		if _, ok := b.topics[name]; !ok {
			delete(topics, name)
		}
	}
	b.topics = topics
	b.mu.Unlock()
	b.topicsGen.Store(gen)
}

// topic returns a topic by name, or nil.
func (b *broker) topic(name string) *topic {
	b.syncTopics()
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.topics[name]
}

// topicByID returns a topic by id, or nil.
func (b *broker) topicByID(id [16]byte) *topic {
	b.syncTopics()
	b.mu.RLock()
	defer b.mu.RUnlock()
	for _, t := range b.topics {
		if t.id == id {
			return t
		}
	}
	return nil
}

// topicNames returns every topic name, sorted.
func (b *broker) topicNames() []string {
	b.syncTopics()
	b.mu.RLock()
	defer b.mu.RUnlock()
	names := make([]string, 0, len(b.topics))
	for n := range b.topics {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (t *topic) partition(p int32) *partition {
	if p < 0 || int(p) >= len(t.parts) {
		return nil
	}
	return t.parts[p]
}

// validTopicName applies Kafka's rules: 1–249 characters of
// [a-zA-Z0-9._-], not "." or "..".
func validTopicName(name string) error {
	if name == "" || name == "." || name == ".." || len(name) > 249 {
		return fmt.Errorf("invalid topic name %q", name)
	}
	for _, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
		if !ok {
			return fmt.Errorf("topic name %q contains illegal character %q", name, r)
		}
	}
	return nil
}

var errTopicExistsErr = errors.New("topic already exists")

// createTopic makes a topic with n partitions and the given configs,
// which must already be validated.
func (b *broker) createTopic(ctx context.Context, name string, n int32, configs map[string]string) (*topic, error) {
	b.admin.Lock()
	defer b.admin.Unlock()
	if b.topic(name) != nil {
		return nil, fmt.Errorf("%w: %s", errTopicExistsErr, name)
	}
	tp := &topic{name: name, configs: configs}
	if tp.configs == nil {
		tp.configs = map[string]string{}
	}
	rand.Read(tp.id[:])
	parts, err := b.createPartitionLogs(ctx, tp, 0, n, logConfig(tp.configs))
	if err != nil {
		return nil, err
	}
	tp.parts = parts
	raw, _ := json.Marshal(tp.configs)
	err = b.t.Update(ctx, func(tx *storage.Tx) error {
		_, err := tx.Exec(`INSERT INTO kafka_topics(name, id, partitions, configs) VALUES (?, ?, ?, ?)`,
			name, tp.id[:], n, string(raw))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create topic %s: %w", name, err)
	}
	b.mu.Lock()
	b.topics[name] = tp
	b.mu.Unlock()
	return tp, nil
}

// createPartitionLogs creates the logs of partitions [from, to) of tp. The
// creations run concurrently so that the core's group commit makes them
// durable together instead of one fsync each.
func (b *broker) createPartitionLogs(ctx context.Context, tp *topic, from, to int32, lc storage.LogConfig) ([]*partition, error) {
	parts := make([]*partition, to-from)
	errs := make([]error, to-from)
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for i := from; i < to; i++ {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			parts[i-from], errs[i-from] = b.createPartitionLog(ctx, tp, i, lc)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return parts, nil
}

// createPartitionLog creates a partition's log, replacing a log left over
// by a creation that crashed before its topic row was written.
func (b *broker) createPartitionLog(ctx context.Context, tp *topic, i int32, lc storage.LogConfig) (*partition, error) {
	name := logName(tp.name, i)
	l, err := b.t.Logs().Create(ctx, name, lc)
	if errors.Is(err, storage.ErrExists) {
		if err := b.t.Logs().Delete(ctx, name); err != nil {
			return nil, err
		}
		l, err = b.t.Logs().Create(ctx, name, lc)
	}
	if err != nil {
		return nil, fmt.Errorf("create partition log: %w", err)
	}
	return newPartition(tp, i, l), nil
}

// autoCreate returns the named topic, creating it if the server allows.
func (b *broker) autoCreate(ctx context.Context, name string) (*topic, int16) {
	if tp := b.topic(name); tp != nil {
		return tp, 0
	}
	if validTopicName(name) != nil {
		return nil, errInvalidTopic
	}
	if !b.s.cfg.AutoCreateTopics {
		return nil, errUnknownTopic
	}
	tp, err := b.createTopic(ctx, name, b.s.cfg.DefaultPartitions, nil)
	if errors.Is(err, errTopicExistsErr) {
		return b.topic(name), 0
	}
	if err != nil {
		return nil, errCode(err)
	}
	return tp, 0
}

// deleteTopic removes a topic, its logs, producer state and committed
// offsets.
func (b *broker) deleteTopic(ctx context.Context, name string) error {
	b.admin.Lock()
	defer b.admin.Unlock()
	tp := b.topic(name)
	if tp == nil {
		return fmt.Errorf("%w: topic %s", storage.ErrNotFound, name)
	}
	err := b.t.Update(ctx, func(tx *storage.Tx) error {
		if _, err := tx.Exec(`DELETE FROM kafka_topics WHERE name = ?`, name); err != nil {
			return err
		}
		if _, err := tx.Exec(`DELETE FROM kafka_offsets WHERE topic = ?`, name); err != nil {
			return err
		}
		_, err := tx.Exec(`DELETE FROM kafka_producers WHERE log >= ? AND log < ?`,
			"kafka/"+name+"/", "kafka/"+name+"/\U0010FFFF")
		return err
	})
	if err != nil {
		return fmt.Errorf("delete topic %s: %w", name, err)
	}
	b.mu.Lock()
	delete(b.topics, name)
	b.mu.Unlock()
	for _, p := range tp.parts {
		if err := b.t.Logs().Delete(ctx, p.log.Name()); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
	}
	return nil
}

// addPartitions grows a topic to n partitions.
func (b *broker) addPartitions(ctx context.Context, name string, n int32) error {
	b.admin.Lock()
	defer b.admin.Unlock()
	old := b.topic(name)
	if old == nil {
		return fmt.Errorf("%w: topic %s", storage.ErrNotFound, name)
	}
	if int(n) <= len(old.parts) {
		return &codedError{errInvalidPartitions,
			fmt.Sprintf("topic %s has %d partitions; cannot grow to %d", name, len(old.parts), n)}
	}
	tp := &topic{name: old.name, id: old.id, configs: old.configs}
	added, err := b.createPartitionLogs(ctx, tp, int32(len(old.parts)), n, logConfig(tp.configs))
	if err != nil {
		return err
	}
	tp.parts = append(slices.Clip(old.parts), added...)
	err = b.t.Update(ctx, func(tx *storage.Tx) error {
		_, err := tx.Exec(`UPDATE kafka_topics SET partitions = ? WHERE name = ?`, n, name)
		return err
	})
	if err != nil {
		return err
	}
	b.mu.Lock()
	b.topics[name] = tp
	b.mu.Unlock()
	return nil
}

// setConfigs replaces a topic's configs (already validated) and applies
// them to its logs.
func (b *broker) setConfigs(ctx context.Context, name string, configs map[string]string) error {
	b.admin.Lock()
	defer b.admin.Unlock()
	old := b.topic(name)
	if old == nil {
		return fmt.Errorf("%w: topic %s", storage.ErrNotFound, name)
	}
	raw, _ := json.Marshal(configs)
	err := b.t.Update(ctx, func(tx *storage.Tx) error {
		_, err := tx.Exec(`UPDATE kafka_topics SET configs = ? WHERE name = ?`, string(raw), name)
		return err
	})
	if err != nil {
		return err
	}
	lc := logConfig(configs)
	for _, p := range old.parts {
		if err := p.log.SetConfig(ctx, lc); err != nil {
			return err
		}
	}
	tp := &topic{name: old.name, id: old.id, configs: configs, parts: old.parts}
	b.mu.Lock()
	b.topics[name] = tp
	b.mu.Unlock()
	return nil
}

// codedError carries a specific Kafka error code and message.
type codedError struct {
	code int16
	msg  string
}

func (e *codedError) Error() string { return e.msg }
