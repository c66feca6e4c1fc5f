package gateway

import (
	"net"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"rewire/natswire"
)

var (
	metricConns = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rewire_connections_total",
		Help: "Connections accepted per protocol.",
	}, []string{"proto"})
	metricConnsOpen = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "rewire_connections_open",
		Help: "Connections open per protocol.",
	}, []string{"proto"})
	metricBytes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rewire_protocol_bytes_total",
		Help: "Bytes received (in) and sent (out) per protocol.",
	}, []string{"proto", "dir"})
	metricRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rewire_requests_total",
		Help: helpRequests,
	}, []string{"proto"})
	metricKafkaAPI = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rewire_kafka_requests_total",
		Help: "Kafka requests per API.",
	}, []string{"api"})
)

const helpRequests = "Requests served per protocol (Kafka request frames, PostgreSQL frontend messages, NATS messages in, HTTP requests)."

// natsCollector reports the NATS listener's traffic under the same metric
// names as the other protocols; the embedded NATS server counts it itself.
type natsCollector struct {
	traffic func() natswire.Traffic
}

var (
	descRequests = prometheus.NewDesc("rewire_requests_total", helpRequests, []string{"proto"}, nil)
	descBytes    = prometheus.NewDesc("rewire_protocol_bytes_total", "Bytes received (in) and sent (out) per protocol.", []string{"proto", "dir"}, nil)
)

// Describe sends nothing: the collector is unchecked, because its metric
// names are shared with the counter vectors above.
func (natsCollector) Describe(chan<- *prometheus.Desc) {}

func (c natsCollector) Collect(ch chan<- prometheus.Metric) {
	t := c.traffic()
	ch <- prometheus.MustNewConstMetric(descRequests, prometheus.CounterValue, float64(t.InMsgs), "nats")
	ch <- prometheus.MustNewConstMetric(descBytes, prometheus.CounterValue, float64(t.InBytes), "nats", "in")
	ch <- prometheus.MustNewConstMetric(descBytes, prometheus.CounterValue, float64(t.OutBytes), "nats", "out")
}

// countingListener counts connections and bytes of one protocol, so that
// every protocol gets the same traffic metrics without knowing about them.
type countingListener struct {
	net.Listener
	proto string
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	metricConns.WithLabelValues(l.proto).Inc()
	metricConnsOpen.WithLabelValues(l.proto).Inc()
	return &countingConn{
		Conn: c,
		in:   metricBytes.WithLabelValues(l.proto, "in"),
		out:  metricBytes.WithLabelValues(l.proto, "out"),
		open: metricConnsOpen.WithLabelValues(l.proto),
	}, nil
}

type countingConn struct {
	net.Conn
	in, out prometheus.Counter
	open    prometheus.Gauge
	closed  atomic.Bool
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.in.Add(float64(n))
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.out.Add(float64(n))
	return n, err
}

func (c *countingConn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.open.Dec()
	}
	return c.Conn.Close()
}
