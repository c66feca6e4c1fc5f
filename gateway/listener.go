package gateway

import (
	"net"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
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
		Help: "Requests served per protocol (HTTP requests; NATS messages in).",
	}, []string{"proto"})
)

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
