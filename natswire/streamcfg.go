package natswire

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// minStreamWindow is the shortest max age and duplicate window a stream
// may have, as nats-server enforces.
const minStreamWindow = 100 * time.Millisecond

// normalizeStreamConfig fills defaults as nats-server does and checks the
// configuration, answering with nats-server's error for each refusal.
func (h *host) normalizeStreamConfig(cfg *server.StreamConfig) *server.ApiError {
	invalid := func(format string, args ...any) *server.ApiError {
		return server.NewJSStreamInvalidConfigError(fmt.Errorf(format, args...))
	}
	if !validName(cfg.Name) {
		return invalid("stream name is required and can not contain '.', '*', '>', '\\', '/'")
	}
	if len(cfg.Description) > server.JSMaxDescriptionLen {
		return invalid("stream description is too long, maximum allowed is %d", server.JSMaxDescriptionLen)
	}
	metaLen := 0
	for k, v := range cfg.Metadata {
		metaLen += len(k) + len(v)
	}
	if metaLen > server.JSMaxMetadataLen {
		return invalid("stream metadata exceeds maximum size of %d bytes", server.JSMaxMetadataLen)
	}

	// Enumerations arrive already decoded; a value their encoders refuse
	// could never be stored.
	if _, err := cfg.Retention.MarshalJSON(); err != nil {
		return invalid("invalid retention")
	}
	if _, err := cfg.Discard.MarshalJSON(); err != nil {
		return invalid("invalid discard policy")
	}
	if _, err := cfg.Compression.MarshalJSON(); err != nil {
		return invalid("invalid compression")
	}
	if cfg.Storage == 0 {
		cfg.Storage = server.FileStorage
	}
	if _, err := cfg.Storage.MarshalJSON(); err != nil {
		return invalid("invalid storage type")
	}

	if cfg.Replicas < 0 {
		return server.NewJSReplicasCountCannotBeNegativeError()
	}
	if cfg.Replicas > server.StreamMaxReplicas {
		return invalid("maximum replicas is %d", server.StreamMaxReplicas)
	}
	// A single rewire node keeps one copy in the core.
	cfg.Replicas = 1

	if cfg.Mirror != nil || len(cfg.Sources) > 0 {
		// TODO: mirrors and sources.
		return invalid("mirrors and sources are not supported by rewire")
	}
	if len(cfg.Subjects) == 0 {
		cfg.Subjects = []string{cfg.Name}
	}
	for _, s := range cfg.Subjects {
		if !validSubject(s, true) {
			return invalid("invalid subject %q", s)
		}
		if strings.HasPrefix(s, "$JS.") || subjectMatches(s, "$JS.API.X") {
			return invalid("subjects that overlap with jetstream api require no-ack to be true")
		}
	}

	// Zero and anything below -1 mean "no limit".
	for _, lim := range []*int64{&cfg.MaxMsgs, &cfg.MaxMsgsPer, &cfg.MaxBytes} {
		if *lim == 0 || *lim < -1 {
			*lim = -1
		}
	}
	if cfg.MaxMsgSize == 0 || cfg.MaxMsgSize < -1 {
		cfg.MaxMsgSize = -1
	}
	if cfg.MaxConsumers == 0 || cfg.MaxConsumers < -1 {
		cfg.MaxConsumers = -1
	}

	if cfg.MaxAge < 0 {
		return invalid("max age can not be negative")
	}
	if cfg.MaxAge != 0 && cfg.MaxAge < minStreamWindow {
		return invalid("max age needs to be >= 100ms")
	}
	if cfg.Duplicates == 0 {
		cfg.Duplicates = server.StreamDefaultDuplicatesWindow
		if cfg.MaxAge != 0 && cfg.MaxAge < cfg.Duplicates {
			cfg.Duplicates = cfg.MaxAge
		}
	}
	if cfg.Duplicates < 0 {
		return invalid("duplicates window can not be negative")
	}
	if cfg.MaxAge != 0 && cfg.Duplicates > cfg.MaxAge {
		return invalid("duplicates window can not be larger then max age")
	}
	if cfg.Duplicates < minStreamWindow {
		return invalid("duplicates window needs to be >= 100ms")
	}

	if cfg.DenyPurge && cfg.AllowRollup {
		return invalid("roll-ups require the purge permission")
	}
	if cfg.DiscardNewPer {
		if cfg.Discard != server.DiscardNew {
			return invalid("discard new per subject requires discard new policy to be set")
		}
		if cfg.MaxMsgsPer <= 0 {
			return invalid("discard new per subject requires max msgs per subject > 0")
		}
	}
	return nil
}

// checkStreamUpdate refuses changes nats-server does not allow on an
// existing stream and applies what sealing implies.
func checkStreamUpdate(old, cfg *server.StreamConfig) *server.ApiError {
	invalid := func(msg string) *server.ApiError {
		return server.NewJSStreamInvalidConfigError(errors.New(msg))
	}
	switch {
	case cfg.Storage != old.Storage:
		return invalid("stream configuration update can not change storage type")
	case cfg.Retention != old.Retention &&
		(old.Retention == server.WorkQueuePolicy || cfg.Retention == server.WorkQueuePolicy):
		return invalid("stream configuration update can not change retention policy to/from workqueue")
	case old.Sealed && !cfg.Sealed:
		return invalid("stream configuration update can not unseal a sealed stream")
	case old.DenyDelete && !cfg.DenyDelete:
		return invalid("stream configuration update can not cancel deny message deletes")
	case old.DenyPurge && !cfg.DenyPurge:
		return invalid("stream configuration update can not cancel deny purge")
	}
	if cfg.Sealed {
		// A sealed stream keeps what it has, for good.
		cfg.MaxAge = 0
		cfg.Discard = server.DiscardNew
		cfg.DenyDelete, cfg.DenyPurge = true, true
		cfg.AllowRollup = false
	}
	return nil
}
