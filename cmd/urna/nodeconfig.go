package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/urna-vote/urna/chain/station"
)

// homeConfig is the node's own settings in a station home (see home.go):
// where it listens and where it serves metrics. The stations' addresses,
// which every station must agree on, are in the genesis instead.
const homeConfig = "config.yaml"

// nodeConfig is config.yaml.
type nodeConfig struct {
	// Listen is the UDP address the node's QUIC endpoint binds, for the
	// other stations and for clients. Default: the station's address in the
	// genesis.
	Listen string `yaml:"listen"`
	// Metrics is the TCP address of the Prometheus /metrics endpoint; empty
	// for none.
	Metrics string `yaml:"metrics"`
	// MinFreeMB is the free space, in MiB, the node keeps on the file
	// systems of its data directories: below it, it stops cleanly (and
	// refuses to start) instead of running into a full disk; see disk.go.
	// Default defaultMinFreeMB; 0 turns the check off.
	MinFreeMB *uint64 `yaml:"min_free_mb"`
	// Pprof is the TCP address of Go's /debug/pprof/ endpoints, for
	// profiling under load; empty (the default) for none. Bind it to
	// loopback: profiles show the node's inner workings.
	Pprof string `yaml:"pprof"`
	// MemoryLimit is the Go runtime's soft memory limit (as GOMEMLIMIT),
	// e.g. "200MiB": the collector works harder as the heap nears it, so
	// that RSS stays flat. Empty: the default, 160MiB; "off": none.
	MemoryLimit string `yaml:"memory_limit"`

	// tamper rewrites the station's traffic: set only by a test-only
	// build's flags (see testOnlyNodeFlags), never from the file.
	tamper func(station.Transport, *home, *slog.Logger) (station.Transport, error)
}

// maxMinFreeMB bounds min_free_mb (1 EiB), so that it converts to bytes
// without overflow.
const maxMinFreeMB = 1 << 40

// minFreeMB is MinFreeMB with its default.
func (c *nodeConfig) minFreeMB() uint64 {
	if c.MinFreeMB == nil {
		return defaultMinFreeMB
	}
	return *c.MinFreeMB
}

// loadNodeConfig reads a home's config.yaml; a home without one listens on
// its genesis address and serves no metrics.
func loadNodeConfig(h *home) (*nodeConfig, error) {
	idx, ok := h.genesis.StationByKey(h.publicKey())
	if !ok {
		return nil, fmt.Errorf("%s: node.key is not the key of a station of genesis.json", h.dir)
	}
	def := &nodeConfig{Listen: h.genesis.Stations()[idx].Address}
	path := filepath.Join(h.dir, homeConfig)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return def, nil
	}
	if err != nil {
		return nil, err
	}
	var c nodeConfig
	if err := yaml.UnmarshalWithOptions(data, &c, yaml.Strict(), yaml.DisallowUnknownField()); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if c.Listen == "" {
		c.Listen = def.Listen
	}
	if err := checkHostPort(c.Listen); err != nil {
		return nil, fmt.Errorf("%s: listen: %w", path, err)
	}
	if c.Metrics != "" {
		if err := checkHostPort(c.Metrics); err != nil {
			return nil, fmt.Errorf("%s: metrics: %w", path, err)
		}
	}
	if c.MinFreeMB != nil && *c.MinFreeMB > maxMinFreeMB {
		return nil, fmt.Errorf("%s: min_free_mb: %d MiB is more than any disk (at most %d)", path, *c.MinFreeMB, uint64(maxMinFreeMB))
	}
	if c.Pprof != "" {
		if err := checkHostPort(c.Pprof); err != nil {
			return nil, fmt.Errorf("%s: pprof: %w", path, err)
		}
	}
	if _, err := c.memoryLimit(); err != nil {
		return nil, fmt.Errorf("%s: memory_limit: %w", path, err)
	}
	return &c, nil
}

func writeNodeConfig(path string, c *nodeConfig) error {
	text := fmt.Sprintf(`# urna node settings (see docs/operations.md).
# listen: UDP address of the node's QUIC endpoint, for stations and clients.
#   The other stations reach it at this station's address in genesis.json.
listen: %q
# metrics: TCP address of the Prometheus /metrics endpoint ("" for none).
metrics: %q
# min_free_mb: free space (MiB) kept on the disk of data/: below it the node
#   stops cleanly, and will not start, rather than fill the disk (0: no check).
min_free_mb: %d
# pprof: TCP address of Go's /debug/pprof/ endpoints (loopback only), for
#   profiling under load; left out: none.
# pprof: "127.0.0.1:6060"
# memory_limit: the Go runtime's soft memory limit; left out: 160MiB.
# memory_limit: "160MiB"
`, c.Listen, c.Metrics, c.minFreeMB())
	return os.WriteFile(path, []byte(text), 0o644)
}

// defaultMemoryLimit is the soft memory limit of a node whose config
// says none: the store's memtables, a full mempool and a few blocks in
// flight fit well below it (docs/BENCHMARKS.md measures a station's RSS).
const defaultMemoryLimit = 160 << 20

// memoryLimit is the soft memory limit in bytes; 0 for none.
func (c *nodeConfig) memoryLimit() (int64, error) {
	s := strings.TrimSpace(c.MemoryLimit)
	switch s {
	case "":
		return defaultMemoryLimit, nil
	case "off":
		return 0, nil
	}
	units := []struct {
		suffix string
		mul    int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"B", 1}}
	mul := int64(-1)
	num := s
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			num, mul = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mul
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if mul < 0 || err != nil || n <= 0 || n > (1<<50)/mul {
		return 0, fmt.Errorf("%q: want a size such as 160MiB or 1GiB (units B, KiB, MiB, GiB), or off", c.MemoryLimit)
	}
	if n*mul < 32<<20 {
		return 0, fmt.Errorf("%q is below 32MiB: a node cannot run in that", c.MemoryLimit)
	}
	return n * mul, nil
}

func checkHostPort(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port: %w", addr, err)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("%q: port %q is not a number 0..65535", addr, port)
	}
	return nil
}
