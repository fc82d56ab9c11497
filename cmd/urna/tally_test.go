package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/audit"
	"github.com/urna-vote/urna/chain/bft"
	"github.com/urna-vote/urna/chain/chaintest"
	"github.com/urna-vote/urna/net/api"
	"github.com/urna-vote/urna/net/endpoint"
)

// tallied is a whole small election: its genesis and record files, and the
// plain choices' counts.
type tallied struct {
	e                *chaintest.Election
	c                *chaintest.Chain
	want             [][]uint64
	genesis, record  string
	recordBytes      []byte
	otherGenesis     []byte
	blocks, certs    [][]byte
	otherGenesisPath string
}

var (
	talliedOnce sync.Once
	talliedElec *tallied
)

// talliedElection builds the election once (in memory) and writes its
// files into the test's own temporary directory.
func talliedElection(t *testing.T) *tallied {
	talliedOnce.Do(func() {
		e := chaintest.NewElection(t, "mayor", 40, 21, nil)
		c, want := e.Whole(t, 24, 8, 1)
		te := &tallied{e: e, c: c, want: want, recordBytes: c.Record(t), blocks: c.Blocks}
		for _, cert := range c.Certs {
			te.certs = append(te.certs, bft.EncodeCertificate(cert))
		}
		te.otherGenesis = chaintest.NewElection(t, "mayor", 40, 22, nil).Genesis.Encode()
		talliedElec = te
	})
	if talliedElec == nil {
		t.Fatal("no election")
	}
	te := *talliedElec
	dir := t.TempDir()
	te.genesis, te.record, te.otherGenesisPath = filepath.Join(dir, "genesis.json"), filepath.Join(dir, "election.record"), filepath.Join(dir, "other-genesis.json")
	for path, data := range map[string][]byte{te.genesis: te.e.Genesis.Encode(), te.record: te.recordBytes, te.otherGenesisPath: te.otherGenesis} {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return &te
}

func decodeReport(t *testing.T, out string) *talliedReport {
	t.Helper()
	r := &talliedReport{Report: &audit.Report{}}
	if err := json.Unmarshal([]byte(out), r); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, out)
	}
	return r
}

func checkResults(t *testing.T, te *tallied, r *talliedReport) {
	t.Helper()
	if !r.Verified || !r.Tallied || len(r.Results) != len(te.want) {
		t.Fatalf("verified %v tallied %v, %d contests; first failure %+v", r.Verified, r.Tallied, len(r.Results), r.FirstFailure)
	}
	for ci, c := range r.Results {
		for si, cand := range c.Candidates {
			if cand.Votes != te.want[ci][si] {
				t.Fatalf("%s/%s: %d votes, the plain choices give %d", c.ID, cand.ID, cand.Votes, te.want[ci][si])
			}
		}
	}
	for _, c := range r.Checks {
		if !c.Passed {
			t.Fatalf("check %s failed: %+v", c.Name, c.Failure)
		}
	}
}

func TestTallyRecord(t *testing.T) {
	te := talliedElection(t)
	code, out, errOut := urna(t, "tally", "--genesis", te.genesis, "--record", te.record)
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, errOut, out)
	}
	if !strings.Contains(out, "VERIFIED") || strings.Contains(out, "NOT VERIFIED") {
		t.Fatalf("report does not say verified:\n%s", out)
	}
	for _, name := range audit.CheckNames() {
		if name != audit.CheckSources && !strings.Contains(out, name) {
			t.Errorf("report lacks check %s", name)
		}
	}
	for si, cand := range te.e.Genesis.Contests()[0].Candidates {
		line := ""
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, cand.Name) {
				line = l
			}
		}
		if !strings.Contains(line, " "+itoa(te.want[0][si])+" ") {
			t.Errorf("candidate %s: line %q lacks the count %d", cand.Name, line, te.want[0][si])
		}
	}

	code, out, _ = urna(t, "tally", "--genesis", te.genesis, "--record", te.record, "--json")
	if code != 0 {
		t.Fatalf("--json: exit %d", code)
	}
	r := decodeReport(t, out)
	checkResults(t, te, r)
	if r.Source != "record" || r.Counted != 24 || r.Height != uint64(len(te.blocks)) || len(r.Checks) != len(audit.CheckNames())-1 {
		t.Fatalf("report: source %s, %d counted, height %d, %d checks", r.Source, r.Counted, r.Height, len(r.Checks))
	}

	// What urna demo calls.
	var buf strings.Builder
	rep, err := tallyRecord(context.Background(), te.genesis, te.record, &buf, false)
	if err != nil || !rep.Verified || !strings.Contains(buf.String(), "VERIFIED") {
		t.Fatalf("tallyRecord: %v", err)
	}
}

func itoa(n uint64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestTallyExitCodes(t *testing.T) {
	te := talliedElection(t)
	// A changed byte in a block: exit 1, the failure names height and rule.
	bad := slices.Clone(te.recordBytes)
	bad[len(bad)/2] ^= 0x04
	badPath := filepath.Join(t.TempDir(), "bad.record")
	if err := os.WriteFile(badPath, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := urna(t, "tally", "--genesis", te.genesis, "--record", badPath, "--json")
	if code != 1 {
		t.Fatalf("tampered record: exit %d: %s", code, errOut)
	}
	r := decodeReport(t, out)
	if r.Verified || r.FirstFailure == nil || r.FirstFailure.Height == 0 || r.FirstFailure.Rule == "" || r.Results != nil {
		t.Fatalf("tampered record: %+v", r.FirstFailure)
	}
	if !strings.Contains(errOut, "height") {
		t.Fatalf("stderr does not say where: %s", errOut)
	}
	code, out, _ = urna(t, "tally", "--genesis", te.genesis, "--record", badPath)
	if code != 1 || !strings.Contains(out, "NOT VERIFIED") || !strings.Contains(out, "FAILED") {
		t.Fatalf("tampered record, text: exit %d\n%s", code, out)
	}
	// Another election's genesis: the fingerprint check fails.
	code, out, _ = urna(t, "tally", "--genesis", te.otherGenesisPath, "--record", te.record, "--json")
	if r := decodeReport(t, out); code != 1 || r.FirstFailure == nil || r.FirstFailure.Check != audit.CheckGenesis || r.FirstFailure.Rule != "fingerprint" {
		t.Fatalf("other genesis: exit %d, %+v", code, r.FirstFailure)
	}
	// Usage errors: 2.
	for _, args := range [][]string{
		{"tally"},
		{"tally", "--genesis", te.genesis},
		{"tally", "--genesis", te.genesis, "--record", te.record, "--node", "127.0.0.1:1"},
		{"tally", "--genesis", te.genesis, "--record", te.record, "--follow"},
		{"tally", "--genesis", te.genesis, "--record", te.record, "extra"},
	} {
		if code, _, _ := urna(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	// Could not complete: 3.
	if code, _, errOut := urna(t, "tally", "--genesis", te.genesis, "--record", filepath.Join(t.TempDir(), "missing")); code != 3 || !strings.Contains(errOut, "record") {
		t.Fatalf("missing record: exit %d %s", code, errOut)
	}
	if code, _, _ := urna(t, "tally", "--genesis", filepath.Join(t.TempDir(), "missing"), "--record", te.record); code != 3 {
		t.Fatalf("missing genesis: exit %d", code)
	}
	t.Setenv("QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING", "true")
	if code, _, errOut := urna(t, "tally", "--genesis", te.genesis, "--node", "127.0.0.1:9", "--timeout", "1s"); code != 3 {
		t.Fatalf("no station: exit %d %s", code, errOut)
	}
}

// chainBackend is a station's client protocol over a chain built in
// memory: it serves the first visible blocks, and more as a test releases
// them, with events, as a running station does.
type chainBackend struct {
	mu            sync.Mutex
	blocks, certs [][]byte
	visible       int
	roll          []byte
	fp            [32]byte
	station       uint32
	result        [][]uint64 // published once every block is visible
	subs          []chan api.Event
	asked         uint64 // the highest block asked for
	heads         int    // block requests (each asks for the head)
}

// requests is how many block requests the station answered.
func (b *chainBackend) requests() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.heads
}

// served is the highest block a client asked for.
func (b *chainBackend) served() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.asked
}

var errNotServed = errors.New("not served by this test station")

func (b *chainBackend) Status(context.Context) (*api.Status, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := &api.Status{Election: b.fp, Station: b.station, Phase: uint8(chain.PhaseOpen), Height: uint64(b.visible)}
	if b.visible == len(b.blocks) {
		st.Phase, st.Result = uint8(chain.PhaseTallied), b.result
	}
	return st, nil
}
func (b *chainBackend) Submit(context.Context, []byte) (api.Receipt, error) {
	return api.Receipt{}, errNotServed
}
func (b *chainBackend) WaitCommitted(context.Context, [32]byte) (uint64, error) {
	return 0, errNotServed
}
func (b *chainBackend) Tracking(context.Context, string) (api.Tracking, error) {
	return api.Tracking{}, errNotServed
}
func (b *chainBackend) Roll() []byte { return b.roll }
func (b *chainBackend) Head() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.heads++
	return uint64(b.visible)
}
func (b *chainBackend) Block(h uint64) ([]byte, []byte, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if h == 0 || h > uint64(b.visible) {
		return nil, nil, errors.New("no such block")
	}
	b.asked = max(b.asked, h)
	return b.blocks[h-1], b.certs[h-1], nil
}
func (b *chainBackend) Subscribe() (<-chan api.Event, func()) {
	ch := make(chan api.Event, 64)
	b.mu.Lock()
	b.subs = append(b.subs, ch)
	b.mu.Unlock()
	return ch, func() {}
}

// release makes n more blocks visible and tells the subscribers.
func (b *chainBackend) release(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.visible = min(b.visible+n, len(b.blocks))
	for _, s := range b.subs {
		select {
		case s <- api.Event{Height: uint64(b.visible)}:
		default:
		}
	}
}

// serveStations starts the client protocol of stations 0..n-1 over the
// election's chain, the first visible blocks shown; edit, if not nil,
// changes a station's backend first.
func serveStations(t *testing.T, te *tallied, n, visible int, edit func(i int, b *chainBackend)) ([]*chainBackend, []string) {
	t.Setenv("QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING", "true")
	var backends []*chainBackend
	var addrs []string
	for i := range n {
		b := &chainBackend{blocks: slices.Clone(te.blocks), certs: slices.Clone(te.certs), visible: visible,
			roll: te.e.Roll.Encode(), fp: te.e.Fingerprint(), station: uint32(i), result: te.c.State.Result}
		if edit != nil {
			edit(i, b)
		}
		addr, _ := serveStation(t, te, i, "127.0.0.1:0", b)
		backends = append(backends, b)
		addrs = append(addrs, addr)
	}
	return backends, addrs
}

// serveStation serves station i's client protocol on addr from backend b;
// stop stops it (also at the end of the test).
func serveStation(t *testing.T, te *tallied, i int, addr string, b *chainBackend) (string, func()) {
	ep, err := endpoint.Listen(endpoint.Config{Listen: addr, Key: te.e.StationKey(i)})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := api.NewServer(ep, api.ServerConfig{Backend: b})
	if err != nil {
		t.Fatal(err)
	}
	if err := ep.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			srv.Close()
			ep.Close()
		})
	}
	t.Cleanup(stop)
	return ep.Addr().String(), stop
}

func TestTallyNodes(t *testing.T) {
	te := talliedElection(t)
	all := len(te.blocks)
	_, addrs := serveStations(t, te, 3, all, nil)
	code, out, errOut := urna(t, "tally", "--genesis", te.genesis, "--node", strings.Join(addrs, ","), "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, errOut, out)
	}
	r := decodeReport(t, out)
	checkResults(t, te, r)
	if r.Source != "nodes" || len(r.Stations) != 3 || r.Check(audit.CheckSources).Count != uint64(3*all) {
		t.Fatalf("stations %+v, compared %d blocks", r.Stations, r.Check(audit.CheckSources).Count)
	}
	for i, s := range r.Stations {
		if !s.Agrees || s.Station != te.e.Config.Stations[i].ID || s.Height != uint64(all) {
			t.Fatalf("station %d: %+v", i, s)
		}
	}
}

// A station serving another block at some height is named, and the
// certified chain is still audited; a station publishing another result
// fails the result check.
func TestTallyNodesDisagree(t *testing.T) {
	te := talliedElection(t)
	all := len(te.blocks)
	const at = 6
	_, addrs := serveStations(t, te, 4, all, func(i int, b *chainBackend) {
		switch i {
		case 1: // serves an uncertified other block at height 6
			blk, _ := chain.DecodeBlock(b.blocks[at-1], 1<<24)
			blk.Header.Time++
			b.blocks[at-1] = blk.Encode()
		case 3: // serves another block at height 6 that every station signed
			blk, _ := chain.DecodeBlock(b.blocks[at-1], 1<<24)
			blk.Header.Time += 2
			b.blocks[at-1] = blk.Encode()
			b.certs[at-1] = bft.EncodeCertificate(te.e.Certify(at, sha256.Sum256(b.blocks[at-1])))
		case 2: // publishes another result
			b.result = [][]uint64{slices.Clone(te.c.State.Result[0])}
			b.result[0][1]++
		}
	})
	code, out, _ := urna(t, "tally", "--genesis", te.genesis, "--node", strings.Join(addrs[:2], ","), "--json")
	r := decodeReport(t, out)
	if code != 1 || r.Height != uint64(all) || r.Check(audit.CheckSources).Passed {
		t.Fatalf("exit %d, height %d, first failure %+v", code, r.Height, r.FirstFailure)
	}
	f := r.Check(audit.CheckSources).Failure
	if f.Rule != "different-chain" || !strings.Contains(f.Detail, te.e.Config.Stations[1].ID) || r.Stations[1].Agrees || !r.Stations[0].Agrees {
		t.Fatalf("the other chain's station is not named: %+v %+v", f, r.Stations)
	}
	for _, c := range r.Checks {
		if c.Name != audit.CheckSources && !c.Passed {
			t.Fatalf("check %s failed: %+v", c.Name, c.Failure)
		}
	}

	// Two certified blocks at one height: the stations broke safety.
	code, out, _ = urna(t, "tally", "--genesis", te.genesis, "--node", addrs[0]+","+addrs[3], "--json")
	r = decodeReport(t, out)
	if f := r.FirstFailure; code != 1 || f == nil || f.Rule != "conflicting-certificates" || f.Height != at || r.Height != at-1 {
		t.Fatalf("two certified blocks: exit %d, %+v at height %d", code, f, r.Height)
	}

	code, out, _ = urna(t, "tally", "--genesis", te.genesis, "--node", addrs[0]+","+addrs[2], "--json")
	r = decodeReport(t, out)
	if f := r.Check(audit.CheckResult).Failure; code != 1 || f == nil || f.Rule != "published-counts" || !strings.Contains(f.Detail, te.e.Config.Stations[2].ID) {
		t.Fatalf("altered published result: exit %d, %+v", code, f)
	}
}

// --follow verifies the blocks as the stations commit them, until the
// result is on the chain, and ends with the same report as the plain form.
func TestTallyFollow(t *testing.T) {
	te := talliedElection(t)
	backends, addrs := serveStations(t, te, 2, 3, nil)
	type result struct {
		code     int
		out, err string
	}
	done := make(chan result, 1)
	go func() {
		code, out, errOut := urna(t, "tally", "--genesis", te.genesis, "--node", strings.Join(addrs, ","), "--follow", "--json")
		done <- result{code, out, errOut}
	}()
	deadline := time.After(2 * time.Minute)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var res result
wait:
	for {
		select {
		case res = <-done:
			break wait
		case <-tick.C:
			for _, b := range backends {
				b.release(1)
			}
		case <-deadline:
			t.Fatal("urna tally --follow did not end once the result was on the chain")
		}
	}
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.err)
	}
	followed := decodeReport(t, res.out)
	checkResults(t, te, followed)
	_, plainOut, _ := urna(t, "tally", "--genesis", te.genesis, "--record", te.record, "--json")
	plain := decodeReport(t, plainOut)
	if followed.Height != plain.Height {
		t.Fatalf("--follow ends at height %d, the record has %d", followed.Height, plain.Height)
	}
	sameReport(t, followed, plain)
}

// sameReport checks that a report from stations (followed) is the one from
// a record (plain): the same verdict, results, turnout and checks. When the
// record goes on after the tally (a running chain's empty heartbeat
// blocks), the checks that count blocks and transactions may count more.
func sameReport(t *testing.T, followed, plain *talliedReport) {
	t.Helper()
	if followed.Verified != plain.Verified || followed.Tallied != plain.Tallied || followed.Counted != plain.Counted ||
		followed.Challenged != plain.Challenged || len(followed.Evidence) != len(plain.Evidence) ||
		!slices.EqualFunc(followed.Results, plain.Results, func(a, b audit.ContestResult) bool {
			return a.ID == b.ID && slices.Equal(a.Candidates, b.Candidates)
		}) || !slices.Equal(followed.Turnout, plain.Turnout) {
		t.Fatalf("--follow report differs from the plain one:\n%+v\n%+v", followed.Report, plain.Report)
	}
	if len(followed.Checks) != len(plain.Checks) {
		t.Fatalf("%d checks followed, %d plain", len(followed.Checks), len(plain.Checks))
	}
	perBlock := map[string]bool{audit.CheckChainLink: true, audit.CheckHeaders: true, audit.CheckCertificates: true, audit.CheckTxFormat: true, audit.CheckPhases: true}
	for _, c := range followed.Checks {
		if c.Name == audit.CheckSources {
			continue // only fetching from stations compares them
		}
		pc := plain.Check(c.Name)
		if pc == nil || c.Passed != pc.Passed || (c.Count != pc.Count && (followed.Height == plain.Height || !perBlock[c.Name])) {
			t.Fatalf("check %s: follow %+v, plain %+v", c.Name, c, pc)
		}
	}
}

// resultOf is the first contest's counts of a report.
func resultOf(r *talliedReport) []uint64 {
	var out []uint64
	if len(r.Results) > 0 {
		for _, c := range r.Results[0].Candidates {
			out = append(out, c.Votes)
		}
	}
	return out
}

// --follow asks a station again that stopped answering (restarted), and
// ends with every station agreeing.
func TestTallyFollowStationRestarts(t *testing.T) {
	te := talliedElection(t)
	t.Setenv("QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING", "true")
	all := len(te.blocks)
	var backends []*chainBackend
	for i := range 2 {
		backends = append(backends, &chainBackend{blocks: te.blocks, certs: te.certs, visible: 3,
			roll: te.e.Roll.Encode(), fp: te.e.Fingerprint(), station: uint32(i), result: te.c.State.Result})
	}
	addr0, _ := serveStation(t, te, 0, "127.0.0.1:0", backends[0])
	addr1, stop1 := serveStation(t, te, 1, "127.0.0.1:0", backends[1])
	type result struct {
		code     int
		out, err string
	}
	done := make(chan result, 1)
	go func() {
		code, out, errOut := urna(t, "tally", "--genesis", te.genesis, "--node", addr0+","+addr1, "--follow", "--json", "--timeout", "5s")
		done <- result{code, out, errOut}
	}()
	// Station 1 stops after a few blocks; station 0 goes on, short of the
	// last block; station 1 comes back; then the last block.
	waitFor(t, time.Minute, "the observer to verify 3 blocks", func() (bool, error) {
		return backends[0].served() >= 3 && backends[1].served() >= 3, nil
	})
	stop1()
	backends[0].release(all - 1 - 3)
	backends[1].release(all - 1 - 3)
	waitFor(t, time.Minute, "the observer to verify the blocks from station 0", func() (bool, error) {
		return backends[0].served() >= uint64(all-1), nil
	})
	before := backends[1].requests()
	serveStation(t, te, 1, addr1, backends[1])
	waitFor(t, time.Minute, "the observer to ask station 1 again", func() (bool, error) {
		return backends[1].requests() > before, nil
	})
	backends[0].release(1)
	backends[1].release(1)
	var res result
	select {
	case res = <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("urna tally --follow did not end")
	}
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.err)
	}
	r := decodeReport(t, res.out)
	checkResults(t, te, r)
	for i, s := range r.Stations {
		if !s.Agrees || s.Height != uint64(all) {
			t.Fatalf("station %d: %+v", i, s)
		}
	}
}
