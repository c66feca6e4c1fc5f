package kafkawire

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"rewire/storage"
)

// topicConfigDefaults are the topic configs rewire knows, with Kafka's
// defaults; any other name is INVALID_CONFIG, as in Kafka. retention.ms,
// retention.bytes, max.message.bytes and cleanup.policy are enforced (a
// compacted topic refuses records without a key, and the core's mover
// compacts it, see compact.go); the others are stored and reported.
// message.timestamp.type=LogAppendTime is applied on produce.
var topicConfigDefaults = map[string]string{
	"cleanup.policy":         "delete",
	"retention.ms":           "604800000",
	"retention.bytes":        "-1",
	"max.message.bytes":      "1048588",
	"compression.type":       "producer",
	"segment.bytes":          "1073741824",
	"segment.ms":             "604800000",
	"min.insync.replicas":    "1",
	"message.timestamp.type": "CreateTime",
	"delete.retention.ms":    "86400000",
	"min.compaction.lag.ms":  "0",

	// Accepted, stored and reported so that tools which set them (topic
	// creators, connectors, stream processors) work; they have no effect
	// on a single broker that stores logs in the core.
	"compression.gzip.level":                  "-1",
	"compression.lz4.level":                   "9",
	"compression.zstd.level":                  "3",
	"file.delete.delay.ms":                    "60000",
	"flush.messages":                          "9223372036854775807",
	"flush.ms":                                "9223372036854775807",
	"follower.replication.throttled.replicas": "",
	"index.interval.bytes":                    "4096",
	"leader.replication.throttled.replicas":   "",
	"local.retention.bytes":                   "-2",
	"local.retention.ms":                      "-2",
	"max.compaction.lag.ms":                   "9223372036854775807",
	"message.downconversion.enable":           "true",
	"message.timestamp.after.max.ms":          "9223372036854775807",
	"message.timestamp.before.max.ms":         "9223372036854775807",
	"message.timestamp.difference.max.ms":     "9223372036854775807",
	"min.cleanable.dirty.ratio":               "0.5",
	"preallocate":                             "false",
	"remote.storage.enable":                   "false",
	"segment.index.bytes":                     "10485760",
	"segment.jitter.ms":                       "0",
	"unclean.leader.election.enable":          "false",
}

// validateConfig checks one topic config value.
func validateConfig(key, val string) error {
	if _, ok := topicConfigDefaults[key]; !ok {
		return fmt.Errorf("unknown topic config %q", key)
	}
	switch key {
	case "retention.ms", "retention.bytes", "segment.ms", "delete.retention.ms", "min.compaction.lag.ms":
		n, err := strconv.ParseInt(val, 10, 64)
		if err != nil || n < -1 {
			return fmt.Errorf("invalid value %q for %s", val, key)
		}
	case "max.message.bytes", "segment.bytes", "min.insync.replicas":
		n, err := strconv.ParseInt(val, 10, 32)
		if err != nil || n < 0 {
			return fmt.Errorf("invalid value %q for %s", val, key)
		}
	case "cleanup.policy":
		for _, p := range strings.Split(val, ",") {
			if p != "delete" && p != "compact" {
				return fmt.Errorf("invalid value %q for cleanup.policy", val)
			}
		}
	case "compression.type":
		if !slices.Contains([]string{"producer", "uncompressed", "gzip", "snappy", "lz4", "zstd"}, val) {
			return fmt.Errorf("invalid value %q for compression.type", val)
		}
	case "message.timestamp.type":
		if val != "CreateTime" && val != "LogAppendTime" {
			return fmt.Errorf("invalid value %q for message.timestamp.type", val)
		}
	case "follower.replication.throttled.replicas", "leader.replication.throttled.replicas":
		// A list of partition:broker pairs or "*"; nothing to enforce.
	default:
		// The passive configs: a value of the default's type.
		def := topicConfigDefaults[key]
		var err error
		switch {
		case def == "true" || def == "false":
			_, err = strconv.ParseBool(val)
		case strings.Contains(def, "."):
			_, err = strconv.ParseFloat(val, 64)
		default:
			_, err = strconv.ParseInt(val, 10, 64)
		}
		if err != nil {
			return fmt.Errorf("invalid value %q for %s", val, key)
		}
	}
	return nil
}

// configValue returns a topic's effective value for key.
func (t *topic) configValue(key string) string {
	if v, ok := t.configs[key]; ok {
		return v
	}
	return topicConfigDefaults[key]
}

func (t *topic) maxMessageBytes() int {
	n, _ := strconv.Atoi(t.configValue("max.message.bytes"))
	return n
}

// logConfig maps topic configs onto the core's log retention.
func logConfig(configs map[string]string) storage.LogConfig {
	lc := storage.LogConfig{Extra: maps.Clone(configs)}
	if compacted(configs) {
		lc.Compactor = compactorName
		if !strings.Contains(configs["cleanup.policy"], "delete") {
			return lc // compaction alone keeps the latest record of every key, however old
		}
	}
	ms, err := strconv.ParseInt(configs["retention.ms"], 10, 64)
	if err != nil {
		ms, _ = strconv.ParseInt(topicConfigDefaults["retention.ms"], 10, 64)
	}
	if ms > 0 {
		lc.RetentionMs = ms
	}
	if by, err := strconv.ParseInt(configs["retention.bytes"], 10, 64); err == nil && by > 0 {
		lc.RetentionBytes = by
	}
	return lc
}

const (
	resourceTopic  = 2
	resourceBroker = 4
)

// brokerConfigs are reported for the broker resource.
var brokerConfigs = map[string]string{
	"auto.create.topics.enable":  "true",
	"num.partitions":             "1",
	"default.replication.factor": "1",
	"message.max.bytes":          "1048588",
	"log.retention.ms":           "604800000",
	"offsets.retention.minutes":  "10080",
}

func (c *conn) handleDescribeConfigs(ctx context.Context, r *kmsg.DescribeConfigsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.DescribeConfigsResponse)
	for _, rr := range r.Resources {
		res := kmsg.NewDescribeConfigsResponseResource()
		res.ResourceType = rr.ResourceType
		res.ResourceName = rr.ResourceName
		var values map[string]string
		var defaults map[string]string
		var source kmsg.ConfigSource = kmsg.ConfigSourceDynamicTopicConfig
		switch rr.ResourceType {
		case resourceTopic:
			tp := c.b.topic(rr.ResourceName)
			if tp == nil {
				res.ErrorCode = errUnknownTopic
				resp.Resources = append(resp.Resources, res)
				continue
			}
			values, defaults = tp.configs, topicConfigDefaults
		case resourceBroker:
			values, defaults = map[string]string{}, brokerConfigs
			source = kmsg.ConfigSourceStaticBrokerConfig
		default:
			res.ErrorCode = errInvalidRequest
			resp.Resources = append(resp.Resources, res)
			continue
		}
		keys := slices.Sorted(maps.Keys(defaults))
		if rr.ConfigNames != nil {
			keys = rr.ConfigNames
		}
		for _, k := range keys {
			def, known := defaults[k]
			if !known {
				continue
			}
			cfg := kmsg.NewDescribeConfigsResponseResourceConfig()
			cfg.Name = k
			v, set := values[k]
			if !set {
				v = def
			}
			cfg.Value = &v
			cfg.IsDefault = !set
			cfg.Source = kmsg.ConfigSourceDefaultConfig
			if set {
				cfg.Source = source
			}
			cfg.ReadOnly = rr.ResourceType == resourceBroker
			if r.IncludeSynonyms {
				syn := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
				syn.Name, syn.Value, syn.Source = k, cfg.Value, cfg.Source
				cfg.ConfigSynonyms = append(cfg.ConfigSynonyms, syn)
			}
			res.Configs = append(res.Configs, cfg)
		}
		resp.Resources = append(resp.Resources, res)
	}
	return resp
}

func (c *conn) handleAlterConfigs(ctx context.Context, r *kmsg.AlterConfigsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.AlterConfigsResponse)
	for _, rr := range r.Resources {
		res := kmsg.NewAlterConfigsResponseResource()
		res.ResourceType, res.ResourceName = rr.ResourceType, rr.ResourceName
		next := map[string]string{}
		var err error
		for _, cfg := range rr.Configs {
			if cfg.Value == nil {
				continue
			}
			if err = validateConfig(cfg.Name, *cfg.Value); err != nil {
				break
			}
			next[cfg.Name] = *cfg.Value
		}
		res.ErrorCode, res.ErrorMessage = c.applyConfigs(ctx, rr.ResourceType, rr.ResourceName, next, err, r.ValidateOnly)
		resp.Resources = append(resp.Resources, res)
	}
	return resp
}

func (c *conn) handleIncrementalAlterConfigs(ctx context.Context, r *kmsg.IncrementalAlterConfigsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	for _, rr := range r.Resources {
		res := kmsg.NewIncrementalAlterConfigsResponseResource()
		res.ResourceType, res.ResourceName = rr.ResourceType, rr.ResourceName
		var next map[string]string
		var err error
		if rr.ResourceType == resourceTopic {
			if tp := c.b.topic(rr.ResourceName); tp != nil {
				next = maps.Clone(tp.configs)
			}
		}
		if next == nil {
			next = map[string]string{}
		}
		for _, cfg := range rr.Configs {
			val := ""
			if cfg.Value != nil {
				val = *cfg.Value
			}
			switch cfg.Op {
			case kmsg.IncrementalAlterConfigOpSet:
				err = validateConfig(cfg.Name, val)
				next[cfg.Name] = val
			case kmsg.IncrementalAlterConfigOpDelete:
				delete(next, cfg.Name)
			case kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract:
				if cfg.Name != "cleanup.policy" {
					err = fmt.Errorf("config %s is not a list", cfg.Name)
					break
				}
				cur := strings.Split(next[cfg.Name], ",")
				if next[cfg.Name] == "" {
					cur = []string{topicConfigDefaults[cfg.Name]}
				}
				if cfg.Op == kmsg.IncrementalAlterConfigOpAppend {
					if !slices.Contains(cur, val) {
						cur = append(cur, val)
					}
				} else {
					cur = slices.DeleteFunc(cur, func(s string) bool { return s == val })
				}
				next[cfg.Name] = strings.Join(cur, ",")
				err = validateConfig(cfg.Name, next[cfg.Name])
			default:
				err = fmt.Errorf("unknown operation %d", cfg.Op)
			}
			if err != nil {
				break
			}
		}
		res.ErrorCode, res.ErrorMessage = c.applyConfigs(ctx, rr.ResourceType, rr.ResourceName, next, err, r.ValidateOnly)
		resp.Resources = append(resp.Resources, res)
	}
	return resp
}

// applyConfigs stores a topic's new configs unless validation failed or
// only validation was asked.
func (c *conn) applyConfigs(ctx context.Context, typ kmsg.ConfigResourceType, name string,
	next map[string]string, verr error, validateOnly bool) (int16, *string) {
	if typ != resourceTopic {
		return errInvalidRequest, errMsg(fmt.Errorf("only topic configs can be altered"))
	}
	if c.b.topic(name) == nil {
		return errUnknownTopic, nil
	}
	if verr != nil {
		return errInvalidConfig, errMsg(verr)
	}
	if validateOnly {
		return 0, nil
	}
	if err := c.b.setConfigs(ctx, name, next); err != nil {
		return errCode(err), errMsg(err)
	}
	return 0, nil
}
