package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/urna-vote/urna/chain/station"
	"github.com/urna-vote/urna/net/api"
	"github.com/urna-vote/urna/net/mesh"
)

// nodeMetrics are a node's Prometheus metrics (docs/operations.md lists
// them).
type nodeMetrics struct {
	reg        *prometheus.Registry
	rejections *prometheus.CounterVec
	verify     prometheus.Histogram
	commitWait prometheus.Histogram
	blockGap   prometheus.Histogram
}

func newNodeMetrics() *nodeMetrics {
	m := &nodeMetrics{
		reg: prometheus.NewRegistry(),
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "urna_client_rejections_total",
			Help: "Transactions from clients refused, by the rule they break.",
		}, []string{"rule"}),
		verify: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "urna_tx_verify_seconds",
			Help:    "Time to check a client's transaction (decoding, proofs, rules) and admit it.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		commitWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "urna_tx_commit_wait_seconds",
			Help:    "Time a client waited, after its transaction was accepted, until it was committed.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
		}),
		blockGap: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "urna_block_interval_seconds",
			Help:    "Time between two committed blocks, as this station saw them.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
		}),
	}
	m.reg.MustRegister(m.rejections, m.verify, m.commitWait, m.blockGap,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// watch registers the collectors of the engine, the mesh and the client
// server.
func (m *nodeMetrics) watch(e *station.Engine, ms *mesh.Mesh, srv *api.Server) {
	m.reg.MustRegister(&nodeCollector{e: e, m: ms, srv: srv})
}

// observeBlocks records the interval between committed blocks until the
// events stop.
func (m *nodeMetrics) observeBlocks(events <-chan station.Event) {
	var last time.Time
	for range events {
		now := time.Now()
		if !last.IsZero() {
			m.blockGap.Observe(now.Sub(last).Seconds())
		}
		last = now
	}
}

var (
	descHeight    = prometheus.NewDesc("urna_height", "Height of the last committed block.", nil, nil)
	descRound     = prometheus.NewDesc("urna_round", "Consensus round of the height being decided.", nil, nil)
	descPhase     = prometheus.NewDesc("urna_phase", "Election phase: 1 SETUP, 2 READY, 3 OPEN, 4 CLOSED, 5 TALLIED.", nil, nil)
	descPeers     = prometheus.NewDesc("urna_peers", "Stations connected now.", nil, nil)
	descMempool   = prometheus.NewDesc("urna_mempool_txs", "Transactions waiting for a block.", nil, nil)
	descCounted   = prometheus.NewDesc("urna_ballots_counted", "Ballots counted on the chain.", nil, nil)
	descSpoiled   = prometheus.NewDesc("urna_ballots_spoiled", "Ballots challenged (spoiled) on the chain.", nil, nil)
	descKeyReady  = prometheus.NewDesc("urna_key_ready", "1 when the station holds a key share matching the election key.", nil, nil)
	descBlocks    = prometheus.NewDesc("urna_blocks_committed_total", "Blocks committed since the node started.", nil, nil)
	descAccepted  = prometheus.NewDesc("urna_tx_accepted_total", "Transactions admitted to the mempool (clients and peers).", nil, nil)
	descRejected  = prometheus.NewDesc("urna_tx_rejected_total", "Transactions refused at admission (clients and peers).", nil, nil)
	descVBatches  = prometheus.NewDesc("urna_verify_batches_total", "Batches in which admission verified ballots' proofs.", nil, nil)
	descVBallots  = prometheus.NewDesc("urna_verify_ballots_total", "Ballots verified at admission, in those batches.", nil, nil)
	descDropped   = prometheus.NewDesc("urna_engine_dropped_total", "Messages the engine dropped (malformed, stale, or admission saturated).", nil, nil)
	descNet       = prometheus.NewDesc("urna_net_events_total", "Station mesh: frames sent and received, dropped, connections cut and handshakes refused.", []string{"event", "channel"}, nil)
	descRequests  = prometheus.NewDesc("urna_client_requests_total", "Client protocol requests, by type.", []string{"op"}, nil)
	descErrors    = prometheus.NewDesc("urna_client_errors_total", "Client protocol error answers, by code.", []string{"code"}, nil)
	descClientCut = prometheus.NewDesc("urna_client_cut_total", "Client connections cut off (or refused: busy), by reason.", []string{"reason"}, nil)
)

// nodeCollector reads the engine's status and the network's counters at
// each scrape.
type nodeCollector struct {
	e   *station.Engine
	m   *mesh.Mesh
	srv *api.Server
}

func (c *nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descHeight, descRound, descPhase, descPeers, descMempool, descCounted, descSpoiled,
		descKeyReady, descBlocks, descAccepted, descRejected, descVBatches, descVBallots, descDropped, descNet, descRequests, descErrors, descClientCut} {
		ch <- d
	}
}

func (c *nodeCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.e.Status()
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge(descHeight, float64(s.Height))
	gauge(descRound, float64(s.Round))
	gauge(descPhase, float64(s.Phase))
	gauge(descPeers, float64(len(s.Peers)))
	gauge(descMempool, float64(s.Mempool))
	gauge(descCounted, float64(s.Counted))
	gauge(descSpoiled, float64(s.Spoiled))
	ready := 0.0
	if s.KeyReady {
		ready = 1
	}
	gauge(descKeyReady, ready)
	counter(descBlocks, s.Committed)
	counter(descAccepted, s.Accepted)
	counter(descRejected, s.Rejected)
	counter(descDropped, s.Dropped)
	counter(descVBatches, s.VerifyBatches)
	counter(descVBallots, s.VerifyBallots)
	for _, n := range c.m.Counts() {
		counter(descNet, n.Value, n.Event.String(), n.Channel)
	}
	cs := c.srv.Counts()
	for op, v := range cs.Requests {
		counter(descRequests, v, op)
	}
	for code, v := range cs.Errors {
		counter(descErrors, v, code)
	}
	for reason, v := range cs.Cut {
		counter(descClientCut, v, reason)
	}
}

// serveMetrics serves /metrics on addr until ctx is done; the returned
// function stops it.
func serveMetrics(addr string, reg *prometheus.Registry, log *slog.Logger) (func(), error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "err", err)
		}
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}

// servePprof serves Go's profiles on addr (/debug/pprof/), with the block
// and mutex profiles switched on, until the returned function is called.
func servePprof(addr string, log *slog.Logger) (func(), error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	runtime.SetBlockProfileRate(int(time.Millisecond / 10)) // one sample per 100 µs blocked
	runtime.SetMutexProfileFraction(20)
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("pprof server stopped", "err", err)
		}
	}()
	log.Info("serving pprof", "addr", l.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}
