package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urna-vote/urna/chain/chaintest"
	"github.com/urna-vote/urna/chain/genesis"
)

func TestInitPlacesStations(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "e")
	code, out, errOut := urna(t, "init", "--config", chaintest.ConfigPath("mayor"), "--out", dir, "--voters", "3",
		"--addresses", "north:7100,east:7100,south:7100,west:7100", "--listen-host", "0.0.0.0", "--metrics", "0.0.0.0:9100")
	if code != 0 {
		t.Fatalf("init: %s", errOut)
	}
	g, err := genesis.Load(filepath.Join(dir, "genesis.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range g.Stations() {
		if st.Address != st.ID+":7100" {
			t.Fatalf("station %s at %s", st.ID, st.Address)
		}
		c, err := loadNodeConfig(mustHome(t, filepath.Join(dir, "station-"+st.ID)))
		if err != nil {
			t.Fatal(err)
		}
		if c.Listen != "0.0.0.0:7100" || c.Metrics != "0.0.0.0:9100" {
			t.Fatalf("station %s: %+v", st.ID, c)
		}
	}
	if !strings.Contains(out, "station west       west:7100") {
		t.Fatalf("init output:\n%s", out)
	}
	if code, _, errOut := urna(t, "init", "--config", chaintest.ConfigPath("mayor"), "--out", dir+"2", "--addresses", "a:1,b:2"); code != 1 || !strings.Contains(errOut, "2 addresses, the config 4 stations") {
		t.Fatalf("too few addresses: %d %s", code, errOut)
	}
}

// The sample config's loopback addresses are used when they are free, and
// replaced by free ports when one is taken.
func TestInitMovesOffTakenPorts(t *testing.T) {
	cfg, _, err := genesis.LoadConfig(chaintest.ConfigPath("mayor"))
	if err != nil {
		t.Fatal(err)
	}
	taken, err := net.ListenPacket("udp", cfg.Stations[1].Address)
	if err != nil {
		t.Skipf("cannot take %s for the test: %v", cfg.Stations[1].Address, err)
	}
	defer taken.Close()
	moved, err := placeStations(cfg, "")
	if err != nil || !moved {
		t.Fatalf("moved %v, %v", moved, err)
	}
	for _, st := range cfg.Stations {
		if !strings.HasPrefix(st.Address, "127.0.0.1:") || st.Address == taken.LocalAddr().String() {
			t.Fatalf("station %s placed at %s", st.ID, st.Address)
		}
	}
}

func TestNodeConfigErrors(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "e")
	if code, _, errOut := urna(t, "init", "--config", chaintest.ConfigPath("mayor"), "--out", dir, "--voters", "2", "--metrics", "off"); code != 0 {
		t.Fatal(errOut)
	}
	home := filepath.Join(dir, "station-north")
	h := mustHome(t, home)
	c, err := loadNodeConfig(h)
	if err != nil || c.Metrics != "" || c.Listen != h.genesis.Stations()[0].Address || c.minFreeMB() != defaultMinFreeMB {
		t.Fatalf("%+v %v", c, err)
	}
	for text, want := range map[string]uint64{"min_free_mb: 0\n": 0, "min_free_mb: 1024\n": 1024, "metrics: \"\"\n": defaultMinFreeMB} {
		os.WriteFile(filepath.Join(home, homeConfig), []byte(text), 0o644)
		if c, err := loadNodeConfig(h); err != nil || c.minFreeMB() != want {
			t.Errorf("config %q: min_free_mb %v, %v; want %d", text, c, err, want)
		}
	}
	for _, bad := range []string{"listen: 127.0.0.1\n", "lisen: 127.0.0.1:1\n", "metrics: [1]\n", "listen: a:b:c\n", "min_free_mb: -1\n", "min_free_mb: lots\n", "min_free_mb: 1099511627777\n"} {
		os.WriteFile(filepath.Join(home, homeConfig), []byte(bad), 0o644)
		if _, err := loadNodeConfig(h); err == nil || !strings.Contains(err.Error(), homeConfig) {
			t.Errorf("config %q: %v", bad, err)
		}
	}
	// No config.yaml: the genesis address, no metrics.
	os.Remove(filepath.Join(home, homeConfig))
	if c, err := loadNodeConfig(h); err != nil || c.Listen != h.genesis.Stations()[0].Address || c.Metrics != "" {
		t.Fatalf("%+v %v", c, err)
	}
}

// FuzzNodeConfig: no config.yaml makes the loader panic.
func FuzzNodeConfig(f *testing.F) {
	f.Add([]byte("listen: \"127.0.0.1:7101\"\nmetrics: \"127.0.0.1:8101\"\n"))
	f.Add([]byte("listen: [\n"))
	f.Add([]byte("metrics: 1e99\n"))
	f.Add([]byte("min_free_mb: 18446744073709551615\n"))
	dir := filepath.Join(f.TempDir(), "e")
	if code := run(testContext(), []string{"init", "--config", chaintest.ConfigPath("mayor"), "--out", dir, "--voters", "2"}, discard{}, discard{}); code != 0 {
		f.Fatal("init failed")
	}
	home := filepath.Join(dir, "station-north")
	h, err := openHome(home)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		os.WriteFile(filepath.Join(home, homeConfig), b, 0o644)
		loadNodeConfig(h)
	})
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func testContext() context.Context { return context.Background() }

// memory_limit: sizes with units, "off", the default when left out, and
// clear errors for what is not a size.
func TestMemoryLimitSetting(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		err  string
	}{
		{"", defaultMemoryLimit, ""},
		{"off", 0, ""},
		{"200MiB", 200 << 20, ""},
		{"1GiB", 1 << 30, ""},
		{"65536KiB", 64 << 20, ""},
		{"100000000B", 100000000, ""},
		{" 300MiB ", 300 << 20, ""},
		{"200", 0, "want a size"},
		{"200MB", 0, "want a size"},
		{"-5MiB", 0, "want a size"},
		{"lots", 0, "want a size"},
		{"16MiB", 0, "below 32MiB"},
	} {
		got, err := (&nodeConfig{MemoryLimit: c.in}).memoryLimit()
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: %d, %v; want an error saying %q", c.in, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%q: %d, %v; want %d", c.in, got, err, c.want)
		}
	}
}

// A config.yaml with pprof and memory_limit is read; a bad value of
// either is refused naming the setting.
func TestNodeConfigPprofAndMemoryLimit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "e")
	if code, _, errOut := urna(t, "init", "--config", chaintest.ConfigPath("mayor"), "--out", dir, "--voters", "3"); code != 0 {
		t.Fatalf("init: %s", errOut)
	}
	home := filepath.Join(dir, "station-north")
	path := filepath.Join(home, homeConfig)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := loadNodeConfig(mustHome(t, home)); err != nil || c.Pprof != "" || c.MemoryLimit != "" {
		t.Fatalf("init's config: %+v, %v (want no pprof, default memory limit)", c, err)
	}
	for _, tc := range []struct{ extra, err string }{
		{"pprof: \"127.0.0.1:6060\"\nmemory_limit: \"150MiB\"\n", ""},
		{"pprof: \"nowhere\"\n", "pprof"},
		{"memory_limit: \"150\"\n", "memory_limit"},
	} {
		if err := os.WriteFile(path, append(append([]byte{}, orig...), tc.extra...), 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := loadNodeConfig(mustHome(t, home))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: %v, want an error naming %s", tc.extra, err, tc.err)
			}
			continue
		}
		if err != nil || c.Pprof != "127.0.0.1:6060" || c.MemoryLimit != "150MiB" {
			t.Errorf("%q: %+v, %v", tc.extra, c, err)
		}
	}
}
