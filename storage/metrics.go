package storage

import "github.com/prometheus/client_golang/prometheus"

var (
	metricCommitSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "rewire_storage_commit_fsync_seconds",
		Help:    "Time spent in COMMIT, which includes the write-ahead log fsync.",
		Buckets: prometheus.ExponentialBuckets(0.00005, 2, 18),
	})
	metricWriteSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "rewire_storage_group_commit_seconds",
		Help:    "Time from BEGIN to the end of COMMIT for one commit group.",
		Buckets: prometheus.ExponentialBuckets(0.00005, 2, 18),
	})
	metricGroupSize = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "rewire_storage_group_commit_writes",
		Help:    "Writes committed together in one transaction.",
		Buckets: prometheus.ExponentialBuckets(1, 2, 11),
	})
	metricTenantsOpen = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "rewire_tenants_open",
		Help: "Tenants whose databases are open.",
	})
	metricTenantOpens = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "rewire_tenant_opens_total",
		Help: "Tenants opened from disk.",
	})
	metricTierBytes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rewire_tier_written_bytes_total",
		Help: "Bytes written to each tier.",
	}, []string{"tier"})
	metricTierMoves = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rewire_tier_moves_total",
		Help: "Blobs moved between tiers.",
	}, []string{"from", "to"})
	metricTierObjects = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "rewire_tier_bytes",
		Help: "Bytes held in each tier by the open tenants, as last counted by the mover.",
	}, []string{"tier"})
	metricLazySyncs = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "rewire_storage_lazy_syncs_total",
		Help: "WAL syncs that made lazy writes durable (at Sync, or when the lazy-sync bound came).",
	})
)

// RegisterMetrics adds the core's metrics to r.
func RegisterMetrics(r prometheus.Registerer) {
	r.MustRegister(metricCommitSeconds, metricWriteSeconds, metricGroupSize,
		metricTenantsOpen, metricTenantOpens, metricTierBytes, metricTierMoves,
		metricTierObjects, metricLazySyncs)
}

var groupWrites, groupCommits, lazySyncs atomicCounter

// LazySyncs returns how many WAL syncs every tenant of this process made
// for lazy writes (see Tenant.UpdateLazy) so far.
func LazySyncs() int64 { return lazySyncs.load() }

// GroupCommitStats returns the writes and commits made by every tenant of
// this process so far; benchmarks divide the differences to get the mean
// group size.
func GroupCommitStats() (writes, commits int64) {
	return groupWrites.load(), groupCommits.load()
}
