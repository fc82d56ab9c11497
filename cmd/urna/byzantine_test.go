package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/audit"
	"github.com/urna-vote/urna/chain/bft"
	"github.com/urna-vote/urna/chain/chaintest"
	"github.com/urna-vote/urna/chain/record"
	"github.com/urna-vote/urna/chain/verify"
	"github.com/urna-vote/urna/net/api"
)

// byzantineBinary builds cmd/urna with the test-only build tag
// urnabyzantine (byzantine.go): `urna node --byzantine ...`.
func byzantineBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "urna-byzantine")
	cmd := exec.Command("go", "build", "-tags", "urnabyzantine", "-trimpath", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build -tags urnabyzantine: %v\n%s", err, out)
	}
	return bin
}

// The released binary knows no Byzantine behaviour: --byzantine is an
// unknown flag, and none of byzantine.go is linked in.
func TestReleasedBinaryHasNoByzantineMode(t *testing.T) {
	bin := urnaBinary(t)
	cmd := exec.Command(bin, "node", "--home", t.TempDir(), "--byzantine", "all")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 || !strings.Contains(stderr.String(), "flag provided but not defined: -byzantine") {
		t.Fatalf("urna node --byzantine: %v, stderr:\n%s", err, stderr.String())
	}
	raw, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, marker := range []string{"byzantine station: attacking", "equivocating proposal", "proposal with an invalid ballot"} {
		if bytes.Contains(raw, []byte(marker)) {
			t.Errorf("the released binary contains %q", marker)
		}
	}
}

// A Byzantine station in a real cluster: four `urna node` processes, the
// fourth built with the urnabyzantine tag and run with --byzantine all. As
// proposer it equivocates at heights h with h/4 odd and proposes blocks
// with a forged ballot at heights with h/4 even; it sends a second conflicting vote with every vote,
// and replays its old messages. The honest stations must keep committing
// the ballots of their clients, never commit its invalid blocks (every
// committed block verifies, and none of its blocks at h/4 even is
// committed), hold
// one chain, and record the evidence of its double votes on the chain,
// where the exported record's verifier counts it and `urna tally` names
// the station.
func TestByzantineStationAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four node processes; skipped in -short")
	}
	urnaBinary(t)
	byzBin := byzantineBinary(t)
	start := time.Now()
	const ballots, spare, byz = 40, 40, 3
	dir := filepath.Join(t.TempDir(), "e")
	var addrs []string
	for range 4 {
		p, err := freePort("udp")
		if err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	}
	if _, err := runBin(t, "init", "--config", chaintest.ConfigPath("mayor"), "--out", dir,
		"--voters", strconv.Itoa(ballots+spare), "--addresses", strings.Join(addrs, ",")); err != nil {
		t.Fatal(err)
	}
	e := loadTestElection(t, dir)
	g := e.genesis
	nodes := make([]*nodeProc, 4)
	for i := range byz {
		nodes[i] = startNode(t, e.home(i))
	}
	nodes[byz] = startNodeWith(t, byzBin, e.home(byz), "--byzantine", "all")
	defer func() {
		if t.Failed() {
			for i, n := range nodes {
				t.Logf("station %d log tail:\n%s", i, n.logTail())
			}
		}
	}()
	clients := make([]*api.Client, byz)
	for i := range clients {
		clients[i] = e.dial(t, i, "")
	}
	el := e.electionKey(t, clients[0])
	t.Logf("election key after %v", time.Since(start).Round(time.Millisecond))
	gen := filepath.Join(dir, "genesis.json")
	for i, o := range []string{"clerk", "deputy-clerk"} {
		if _, err := runBin(t, "polls", "open", "--key", filepath.Join(dir, "officials", o+".key"), "--node", addrs[i], "--genesis", gen); err != nil {
			t.Fatal(err)
		}
	}
	waitPhase(t, clients[0], chain.PhaseOpen, 60*time.Second)

	// Ballots through the honest stations only: each must be committed.
	v := newVoters(e, el)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := mrand.New(mrand.NewPCG(uint64(w), 2))
			s := w % byz
			for k := w; k < ballots; k += 6 {
				if err := v.vote(ctx, clients[s], g.Stations()[s].ID, k, rng); err != nil {
					v.mu.Lock()
					v.failures = append(v.failures, err)
					v.mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	if len(v.failures) > 0 {
		t.Fatalf("%d ballots failed; first: %v", len(v.failures), v.failures[0])
	}
	// Until the Byzantine station has had a ballot to forge in a block of
	// its own, more ballots, one at a time.
	forged := func() int {
		b, _ := os.ReadFile(nodes[byz].log)
		return bytes.Count(b, []byte("byzantine: sent proposal with an invalid ballot")) -
			bytes.Count(b, []byte("byzantine: sent proposal with a ballot that does not decode"))
	}
	rng := mrand.New(mrand.NewPCG(9, 9))
	for k := ballots; k < ballots+spare && forged() == 0; k++ {
		if err := v.vote(ctx, clients[k%byz], g.Stations()[k%byz].ID, k, rng); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d ballots committed after %v", v.committed(), time.Since(start).Round(time.Millisecond))

	// The evidence of the double votes reaches the chain.
	var evidence []bft.Evidence
	waitFor(t, 60*time.Second, "evidence against the Byzantine station on the chain", func() (bool, error) {
		st, err := clients[0].Status(ctx)
		if err != nil {
			return false, err
		}
		evidence = nil
		for _, b := range fetchAll(t, clients[0], st.Height) {
			blk, err := chain.DecodeBlock(b.Block, bft.MaxBlockBytes)
			if err != nil {
				return false, err
			}
			for _, raw := range blk.Txs {
				if tx, err := chain.DecodeTx(raw); err == nil && tx.Kind == chain.TxEvidence {
					ev, err := bft.DecodeEvidence(tx.Payload)
					if err != nil {
						return false, err
					}
					evidence = append(evidence, ev)
				}
			}
		}
		return len(evidence) > 0, nil
	})
	for _, ev := range evidence {
		if ev.A.Validator != byz || ev.B.Validator != byz {
			t.Fatalf("evidence against station %d/%d, only station %d equivocated", ev.A.Validator, ev.B.Validator, byz)
		}
	}

	for i, o := range []string{"clerk", "observer"} {
		if _, err := runBin(t, "polls", "close", "--key", filepath.Join(dir, "officials", o+".key"), "--node", addrs[i], "--genesis", gen); err != nil {
			t.Fatal(err)
		}
	}
	waitPhase(t, clients[0], chain.PhaseTallied, 90*time.Second)

	// The honest stations hold one chain; it verifies block by block (an
	// invalid ballot or a block without a quorum would fail here).
	heads := make([]uint64, byz)
	waitFor(t, 30*time.Second, "the honest stations at one height", func() (bool, error) {
		for i, c := range clients {
			st, err := c.Status(ctx)
			if err != nil {
				return false, err
			}
			heads[i] = st.Height
		}
		return heads[1] >= heads[0] && heads[2] >= heads[0], nil
	})
	chains := make([][]verify.Block, byz)
	for i, c := range clients {
		chains[i] = fetchAll(t, c, heads[0])
	}
	for i := 1; i < byz; i++ {
		for h := range chains[0] {
			if !bytes.Equal(chains[i][h].Block, chains[0][h].Block) {
				t.Fatalf("station %d's block %d differs from station 0's", i, h+1)
			}
		}
	}
	f, err := verify.NewFollower(g, e.roll)
	if err != nil {
		t.Fatal(err)
	}
	byzBlocks := 0
	for _, b := range chains[0] {
		a, err := f.Apply(b.Block, b.Certificate)
		if err != nil {
			t.Fatalf("block %d: %v", b.Height, err)
		}
		if a.Block.Header.Proposer == byz {
			byzBlocks++
			if (b.Height/4)%2 == 0 {
				t.Fatalf("block %d is the Byzantine station's own block at a height where it forges a ballot: committed", b.Height)
			}
		}
	}
	st := f.State()
	if st.Phase != chain.PhaseTallied || st.Counted != uint64(v.committed()) || st.Evidence == 0 || st.TallyError != "" {
		t.Fatalf("verified chain: phase %v, %d counted, %d evidence, tally error %q", st.Phase, st.Counted, st.Evidence, st.TallyError)
	}
	t.Logf("%d blocks, %d of them the Byzantine station's; %d evidence records", len(chains[0]), byzBlocks, st.Evidence)

	// The attacks did happen (or the test above proves nothing).
	byzLog, _ := os.ReadFile(nodes[byz].log)
	if forged() == 0 {
		t.Errorf("the Byzantine station never forged a ballot in a block")
	}
	t.Logf("of which with a forged ballot: %d", forged())
	for _, want := range []string{"byzantine: sent double vote", "byzantine: sent equivocating proposal", "byzantine: sent proposal with an invalid ballot"} {
		if n := bytes.Count(byzLog, []byte(want)); n == 0 {
			t.Errorf("the Byzantine station's log has no %q", want)
		} else {
			t.Logf("%q × %d", want, n)
		}
	}

	// The exported record verifies and counts the evidence.
	recFile := filepath.Join(dir, "election.record")
	if _, err := runBin(t, "export", "--node", addrs[0], "--genesis", gen, "--out", recFile); err != nil {
		t.Fatal(err)
	}
	rf, err := os.Open(recFile)
	if err != nil {
		t.Fatal(err)
	}
	fp := g.Fingerprint()
	ver, err := record.Replay(rf, &fp, nil)
	rf.Close()
	if err != nil {
		t.Fatalf("exported record: %v", err)
	}
	// Evidence may still be arriving: the record is exported later.
	if ver.State.Evidence < st.Evidence || ver.State.Counted != st.Counted {
		t.Fatalf("exported record: %d evidence (the chain had %d), %d counted", ver.State.Evidence, st.Evidence, ver.State.Counted)
	}
	// urna tally verifies the record and names the station.
	out, err := runBin(t, "tally", "--genesis", gen, "--record", recFile, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rep audit.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("urna tally --json: %v\n%s", err, out)
	}
	if !rep.Verified || !rep.Tallied || uint64(len(rep.Evidence)) != ver.State.Evidence {
		t.Fatalf("urna tally: verified %v, tallied %v, %d evidence (the record has %d)", rep.Verified, rep.Tallied, len(rep.Evidence), ver.State.Evidence)
	}
	for _, ev := range rep.Evidence {
		if ev.StationIdx != byz || ev.Station != g.Stations()[byz].ID {
			t.Fatalf("urna tally names station %q (%d) in evidence, want %q", ev.Station, ev.StationIdx, g.Stations()[byz].ID)
		}
	}
	out, err = runBin(t, "tally", "--genesis", gen, "--record", recFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "equivocation evidence") || !strings.Contains(out, g.Stations()[byz].ID) {
		t.Fatalf("urna tally's report does not show the evidence against %s:\n%s", g.Stations()[byz].ID, out)
	}
	// The honest stations dropped the replayed messages, and say so.
	cfg, err := loadNodeConfig(mustHome(t, e.home(0)))
	if err != nil {
		t.Fatal(err)
	}
	if d := metricValue(t, scrape(t, cfg.Metrics), "urna_engine_dropped_total"); d == 0 {
		t.Errorf("urna_engine_dropped_total is 0 at an honest station")
	}
	t.Logf("Byzantine station across processes: %v", time.Since(start).Round(time.Millisecond))
}

// startNodeWith starts `node --home home` of another binary, with extra
// flags.
func startNodeWith(t *testing.T, bin, home string, extra ...string) *nodeProc {
	t.Helper()
	p := &nodeProc{t: t, home: home, log: home + ".log"}
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(bin, append([]string{"node", "--home", home}, extra...)...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	p.done = make(chan error, 1)
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() { p.kill() })
	return p
}

// metricValue is the value of an unlabelled metric in a scrape (0 when
// absent).
func metricValue(t *testing.T, scrape, name string) float64 {
	t.Helper()
	for _, line := range strings.Split(scrape, "\n") {
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				t.Fatalf("metric %s: %v", line, err)
			}
			return v
		}
	}
	return 0
}
