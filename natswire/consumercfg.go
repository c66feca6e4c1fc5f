package natswire

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// consumerNameFromSubject applies the name carried by the create subject
// to cfg, as nats-server does for its three forms:
//
//	$JS.API.CONSUMER.CREATE.<stream>                    (ephemeral, legacy)
//	$JS.API.CONSUMER.CREATE.<stream>.<name>[.<filter>]
//	$JS.API.CONSUMER.DURABLE.CREATE.<stream>.<durable>  (legacy)
func consumerNameFromSubject(cfg *server.ConsumerConfig, subj, nameTok, filterTok string) *server.ApiError {
	if strings.ContainsAny(nameTok, `\/`) {
		return server.NewJSConsumerNameContainsPathSeparatorsError()
	}
	switch {
	case strings.HasPrefix(subj, "$JS.API.CONSUMER.DURABLE."):
		if nameTok == "" || strings.Count(subj, ".") != 6 {
			return server.NewJSConsumerDurableNameNotInSubjectError()
		}
		if cfg.Durable == "" {
			return server.NewJSConsumerDurableNameNotSetError()
		}
		if cfg.Durable != nameTok {
			return server.NewJSConsumerDurableNameNotMatchSubjectError()
		}
		cfg.Name = nameTok
	case nameTok != "":
		if cfg.Durable != "" && cfg.Durable != nameTok {
			return server.NewJSConsumerDurableNameNotMatchSubjectError()
		}
		cfg.Name = nameTok
	default:
		if cfg.Durable != "" {
			return server.NewJSConsumerEphemeralWithDurableNameError()
		}
	}
	if filterTok != "" {
		if len(cfg.FilterSubjects) > 0 {
			return server.NewJSConsumerMultipleFiltersNotAllowedError()
		}
		if cfg.FilterSubject != filterTok {
			return server.NewJSConsumerCreateFilterSubjectMismatchError()
		}
	}
	return nil
}

// normalizeConsumerConfig fills nats-server's defaults and checks cfg
// against the stream's configuration, answering with nats-server's error
// for each refusal. Checks that need the stream's other consumers are in
// checkWorkQueueConsumer.
func normalizeConsumerConfig(cfg *server.ConsumerConfig, scfg *server.StreamConfig) *server.ApiError {
	consumerDefaults(cfg, scfg)

	if cfg.Name != "" && !validName(cfg.Name) {
		return server.NewJSStreamInvalidConfigError(errors.New("consumer name can not contain '.', '*', '>', '\\', '/'"))
	}
	if cfg.Durable != "" && !validName(cfg.Durable) {
		return server.NewJSStreamInvalidConfigError(errors.New("consumer durable name can not contain '.', '*', '>', '\\', '/'"))
	}
	if cfg.Replicas < 0 {
		return server.NewJSReplicasCountCannotBeNegativeError()
	}
	if cfg.Replicas > 1 {
		return server.NewJSConsumerReplicasExceedsStreamError()
	}
	if _, err := cfg.AckPolicy.MarshalJSON(); err != nil || cfg.AckPolicy == server.AckFlowControl {
		// TODO: the flow-control ack policy of sourcing consumers.
		return server.NewJSConsumerAckPolicyInvalidError()
	}
	if _, err := cfg.ReplayPolicy.MarshalJSON(); err != nil {
		return server.NewJSConsumerReplayPolicyInvalidError()
	}
	for _, b := range cfg.BackOff {
		if b < 0 {
			return server.NewJSConsumerBackOffNegativeError()
		}
	}
	if cfg.AckWait < 0 {
		return server.NewJSConsumerAckWaitNegativeError()
	}
	if n := len(cfg.BackOff); n > 0 && cfg.MaxDeliver != -1 && n > cfg.MaxDeliver {
		return server.NewJSConsumerMaxDeliverBackoffError()
	}
	if len(cfg.Description) > server.JSMaxDescriptionLen {
		return server.NewJSConsumerDescriptionTooLongError(server.JSMaxDescriptionLen)
	}
	if e := checkDelivery(cfg, scfg); e != nil {
		return e
	}
	if scfg.ConsumerLimits.MaxAckPending > 0 && cfg.MaxAckPending > scfg.ConsumerLimits.MaxAckPending {
		return server.NewJSConsumerMaxPendingAckExcessError(scfg.ConsumerLimits.MaxAckPending)
	}
	if scfg.ConsumerLimits.InactiveThreshold > 0 && cfg.InactiveThreshold > scfg.ConsumerLimits.InactiveThreshold {
		return server.NewJSConsumerInactiveThresholdExcessError(scfg.ConsumerLimits.InactiveThreshold)
	}
	if e := checkFilters(cfg); e != nil {
		return e
	}
	if e := checkDeliverPolicy(cfg); e != nil {
		return e
	}
	if cfg.FlowControl && cfg.Heartbeat == 0 {
		return server.NewJSConsumerWithFlowControlNeedsHeartbeatsError()
	}
	if cfg.Durable != "" && cfg.Name != "" && cfg.Name != cfg.Durable {
		return server.NewJSConsumerCreateDurableAndNameMismatchError()
	}
	metaLen := 0
	for k, v := range cfg.Metadata {
		metaLen += len(k) + len(v)
	}
	if metaLen > server.JSMaxMetadataLen {
		return server.NewJSConsumerMetadataLengthError(fmt.Sprintf("%dKB", server.JSMaxMetadataLen/1024))
	}
	if cfg.PriorityPolicy != server.PriorityNone || len(cfg.PriorityGroups) > 0 {
		// TODO: priority groups (overflow, pinned client, prioritized).
		return server.NewJSStreamInvalidConfigError(errors.New("priority groups are not supported by rewire"))
	}
	return nil
}

// consumerDefaults fills the defaults nats-server fills before checking.
func consumerDefaults(cfg *server.ConsumerConfig, scfg *server.StreamConfig) {
	if cfg.MaxDeliver == 0 || cfg.MaxDeliver < -1 {
		cfg.MaxDeliver = -1
	}
	if cfg.MaxAckPending < -1 {
		cfg.MaxAckPending = -1
	}
	// Negative durations and sizes mean "not set".
	cfg.MaxWaiting = max(cfg.MaxWaiting, 0)
	cfg.MaxRequestBatch = max(cfg.MaxRequestBatch, 0)
	cfg.MaxRequestMaxBytes = max(cfg.MaxRequestMaxBytes, 0)
	cfg.MaxRequestExpires = max(cfg.MaxRequestExpires, 0)
	cfg.Heartbeat = max(cfg.Heartbeat, 0)
	cfg.InactiveThreshold = max(cfg.InactiveThreshold, 0)

	if cfg.DeliverSubject == "" && cfg.MaxWaiting == 0 {
		cfg.MaxWaiting = server.JSWaitQueueDefaultMax
	}
	if cfg.AckWait == 0 && (cfg.AckPolicy == server.AckExplicit || cfg.AckPolicy == server.AckAll) {
		cfg.AckWait = server.JsAckWaitDefault
	}
	if len(cfg.BackOff) > 0 {
		// The first backoff step is the ack wait.
		cfg.AckWait = cfg.BackOff[0]
	}
	if cfg.MaxAckPending == 0 {
		cfg.MaxAckPending = scfg.ConsumerLimits.MaxAckPending
	}
	if cfg.InactiveThreshold == 0 {
		cfg.InactiveThreshold = scfg.ConsumerLimits.InactiveThreshold
	}
	if cfg.MaxAckPending == 0 && cfg.AckPolicy != server.AckNone {
		cfg.MaxAckPending = server.JsDefaultMaxAckPending
	}
	if cfg.Durable == "" && cfg.InactiveThreshold == 0 {
		cfg.InactiveThreshold = ephemeralInactiveThreshold
	}
}

// ephemeralInactiveThreshold is how long an ephemeral consumer outlives
// its last client, as in nats-server.
const ephemeralInactiveThreshold = 5 * time.Second

// checkDelivery checks the push or pull specific settings.
func checkDelivery(cfg *server.ConsumerConfig, scfg *server.StreamConfig) *server.ApiError {
	if cfg.DeliverSubject != "" {
		if !literal(cfg.DeliverSubject) {
			return server.NewJSConsumerDeliverToWildcardsError()
		}
		if !validSubject(cfg.DeliverSubject, false) || strings.HasPrefix(cfg.DeliverSubject, "$JS.") {
			return server.NewJSConsumerInvalidDeliverSubjectError()
		}
		for _, s := range scfg.Subjects {
			if subjectMatches(s, cfg.DeliverSubject) {
				return server.NewJSConsumerDeliverCycleError()
			}
		}
		if cfg.MaxWaiting != 0 {
			return server.NewJSConsumerPushMaxWaitingError()
		}
		if cfg.MaxAckPending > 0 && cfg.AckPolicy == server.AckNone {
			return server.NewJSConsumerMaxPendingAckPolicyRequiredError()
		}
		if cfg.Heartbeat > 0 && cfg.Heartbeat < 100*time.Millisecond {
			return server.NewJSConsumerSmallHeartbeatError()
		}
		return nil
	}
	if cfg.AckPolicy == server.AckNone && scfg.Retention == server.WorkQueuePolicy {
		return server.NewJSConsumerPullRequiresAckError()
	}
	if cfg.RateLimit > 0 {
		return server.NewJSConsumerPullWithRateLimitError()
	}
	if cfg.Heartbeat > 0 {
		// Pull consumers take heartbeats per request.
		return server.NewJSConsumerHBRequiresPushError()
	}
	if cfg.FlowControl {
		return server.NewJSConsumerFCRequiresPushError()
	}
	if cfg.MaxRequestExpires != 0 && cfg.MaxRequestExpires < time.Millisecond {
		return server.NewJSConsumerMaxRequestExpiresTooSmallError()
	}
	return nil
}

// checkFilters refuses empty, invalid and overlapping filter subjects.
func checkFilters(cfg *server.ConsumerConfig) *server.ApiError {
	if cfg.FilterSubject != "" && len(cfg.FilterSubjects) > 0 {
		return server.NewJSConsumerDuplicateFilterSubjectsError()
	}
	for _, f := range cfg.FilterSubjects {
		if f == "" {
			return server.NewJSConsumerEmptyFilterError()
		}
	}
	filters := consumerFilters(cfg)
	for i, a := range filters {
		if !validSubject(a, true) {
			return server.NewJSStreamInvalidConfigError(server.ErrBadSubject)
		}
		for j, b := range filters {
			if i != j && subjectSubset(a, b) {
				return server.NewJSConsumerOverlappingSubjectFiltersError()
			}
		}
	}
	return nil
}

// checkDeliverPolicy checks that the optional start fields fit the
// deliver policy.
func checkDeliverPolicy(cfg *server.ConsumerConfig) *server.ApiError {
	var policy string
	switch cfg.DeliverPolicy {
	case server.DeliverAll:
		policy = "all"
	case server.DeliverLast:
		policy = "last"
	case server.DeliverLastPerSubject:
		policy = "last per subject"
	case server.DeliverNew:
		policy = "new"
	case server.DeliverByStartSequence:
		policy = "by start sequence"
	case server.DeliverByStartTime:
		policy = "by start time"
	}
	invalid := func(format string, args ...any) *server.ApiError {
		return server.NewJSConsumerInvalidPolicyError(fmt.Errorf(format, args...))
	}
	alsoSet := "consumer delivery policy is deliver %s, but optional start %s is also set"
	notSet := "consumer delivery policy is deliver %s, but optional %s is not set"
	if cfg.DeliverPolicy == server.DeliverByStartSequence {
		if cfg.OptStartSeq == 0 {
			return invalid(notSet, policy, "start sequence")
		}
	} else if cfg.OptStartSeq > 0 {
		return invalid(alsoSet, policy, "sequence")
	}
	if cfg.DeliverPolicy == server.DeliverByStartTime {
		if cfg.OptStartTime == nil {
			return invalid(notSet, policy, "start time")
		}
	} else if cfg.OptStartTime != nil {
		return invalid(alsoSet, policy, "time")
	}
	if cfg.DeliverPolicy == server.DeliverLastPerSubject && len(consumerFilters(cfg)) == 0 {
		return invalid(notSet, policy, "filter subject")
	}
	return nil
}

// checkWorkQueueConsumer applies a work queue's rules to a new consumer:
// explicit acks, deliver all, and filters no other consumer shares.
func (s *stream) checkWorkQueueConsumer(name string, cfg *server.ConsumerConfig) *server.ApiError {
	s.mu.Lock()
	wq := s.cfg.Retention == server.WorkQueuePolicy
	others := len(s.consumers)
	s.mu.Unlock()
	if !wq {
		return nil
	}
	if cfg.AckPolicy != server.AckExplicit {
		return server.NewJSConsumerWQRequiresExplicitAckError()
	}
	if cfg.DeliverPolicy != server.DeliverAll {
		return server.NewJSConsumerWQConsumerNotDeliverAllError()
	}
	if others == 0 {
		return nil
	}
	filters := consumerFilters(cfg)
	if len(filters) == 0 {
		return server.NewJSConsumerWQMultipleUnfilteredError()
	}
	if !s.partitionUnique(name, filters) {
		return server.NewJSConsumerWQConsumerNotUniqueError()
	}
	return nil
}

// partitionUnique reports whether no consumer but name takes messages
// from the subjects in filters.
func (s *stream) partitionUnique(name string, filters []string) bool {
	s.mu.Lock()
	cs := make([]*consumer, 0, len(s.consumers))
	for n, c := range s.consumers {
		if n != name {
			cs = append(cs, c)
		}
	}
	s.mu.Unlock()
	for _, c := range cs {
		c.mu.Lock()
		theirs := c.filters
		c.mu.Unlock()
		if len(theirs) == 0 {
			return false
		}
		for _, a := range filters {
			for _, b := range theirs {
				if subjectsCollide(a, b) {
					return false
				}
			}
		}
	}
	return true
}

// checkConsumerUpdate refuses changes nats-server does not allow on an
// existing consumer.
func checkConsumerUpdate(old, cfg *server.ConsumerConfig) error {
	if sameConsumerConfig(*old, *cfg) {
		return nil
	}
	switch {
	case old.DeliverPolicy != cfg.DeliverPolicy:
		return errors.New("deliver policy can not be updated")
	case old.OptStartSeq != cfg.OptStartSeq:
		return errors.New("start sequence can not be updated")
	case !sameTime(old.OptStartTime, cfg.OptStartTime):
		return errors.New("start time can not be updated")
	case old.AckPolicy != cfg.AckPolicy:
		return errors.New("ack policy can not be updated")
	case old.ReplayPolicy != cfg.ReplayPolicy:
		return errors.New("replay policy can not be updated")
	case old.Heartbeat != cfg.Heartbeat:
		return errors.New("heart beats can not be updated")
	case old.FlowControl != cfg.FlowControl:
		return errors.New("flow control can not be updated")
	case old.DeliverSubject == "" && cfg.DeliverSubject != "":
		return errors.New("can not update pull consumer to push based")
	case old.DeliverSubject != "" && cfg.DeliverSubject == "":
		return errors.New("can not update push consumer to pull based")
	case old.MaxWaiting != cfg.MaxWaiting:
		return errors.New("max waiting can not be updated")
	}
	return nil
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// subjectSubset reports whether every subject matching a also matches b.
func subjectSubset(a, b string) bool {
	ta, tb := strings.Split(a, "."), strings.Split(b, ".")
	for i, t := range tb {
		if t == ">" {
			return true
		}
		if i >= len(ta) || ta[i] == ">" {
			return false
		}
		if t == "*" {
			continue
		}
		if ta[i] != t {
			return false
		}
	}
	return len(ta) == len(tb)
}
