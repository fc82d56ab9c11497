package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/urna-vote/urna/ballot"
	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/audit"
	"github.com/urna-vote/urna/chain/bft"
	"github.com/urna-vote/urna/chain/record"
	"github.com/urna-vote/urna/chain/verify"
	"github.com/urna-vote/urna/net/api"
)

var (
	byzBuildOnce sync.Once
	byzBin       string
	byzBuildErr  error
)

// byzantineBinary builds cmd/urna once per test run with the test-only
// build tag urnabyzantine (byzantine.go): `urna node --byzantine ...`. It
// lies next to urnaBinary's, which TestMain removes.
func byzantineBinary(t *testing.T) string {
	t.Helper()
	dir := filepath.Dir(urnaBinary(t))
	byzBuildOnce.Do(func() {
		bin := filepath.Join(dir, "urna-byzantine")
		cmd := exec.Command("go", "build", "-tags", "urnabyzantine", "-trimpath", "-o", bin, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			byzBuildErr = fmt.Errorf("go build -tags urnabyzantine: %v\n%s", err, out)
			return
		}
		byzBin = bin
	})
	if byzBuildErr != nil {
		t.Fatal(byzBuildErr)
	}
	return byzBin
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
	start := time.Now()
	const ballots, spare = 40, 40
	e, addrs, dir, nodes, clients := startByzantineCluster(t, ballots+spare, "all")
	g := e.genesis
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
	for _, want := range []string{"byzantine: sent double vote", "byzantine: sent equivocating proposal", "byzantine: sent proposal with an invalid ballot", "byzantine: sent replayed old message"} {
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

// byz is the Byzantine station of the tests in this file.
const byz = 3

// startByzantineCluster makes an election of four stations and starts
// them, the last with the test-only build and --byzantine attacks; it
// returns clients of the honest stations.
func startByzantineCluster(t *testing.T, voters int, attacks string) (*testElection, []string, string, []*nodeProc, []*api.Client) {
	t.Helper()
	byzBin := byzantineBinary(t)
	e, addrs, dir := newProcessElection(t, voters)
	nodes := make([]*nodeProc, 4)
	for i := range byz {
		nodes[i] = startNode(t, e.home(i))
	}
	nodes[byz] = startNodeWith(t, byzBin, e.home(byz), "--byzantine", attacks)
	t.Cleanup(func() {
		if t.Failed() {
			for i, n := range nodes {
				t.Logf("station %d log tail:\n%s", i, n.logTail())
			}
		}
	})
	clients := make([]*api.Client, byz)
	for i := range clients {
		clients[i] = e.dial(t, i, "")
	}
	return e, addrs, dir, nodes, clients
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

// The Byzantine station attacks the key generation and the tally in a
// real cluster (--byzantine dkg-wrong-share,other-key,bad-shares): its
// deal gives station 0 a share that is not on its polynomial (and it never
// justifies it), it announces a key nobody holds, and its decryption
// shares carry proofs that do not verify. The key must be made of the
// honest dealers, with station 0's complaint on the chain; the chain must
// take the key the honest stations announced; the tally must be made of
// honest shares and equal the plain choices; and urna tally must verify it.
func TestByzantineKeyGenerationAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four node processes; skipped in -short")
	}
	start := time.Now()
	const ballots = 12
	e, addrs, dir, nodes, clients := startByzantineCluster(t, ballots, "dkg-wrong-share,other-key,bad-shares")
	g := e.genesis
	el := e.electionKey(t, clients[0])
	t.Logf("election key after %v", time.Since(start).Round(time.Millisecond))
	gen := filepath.Join(dir, "genesis.json")
	for i, o := range []string{"clerk", "deputy-clerk"} {
		if _, err := runBin(t, "polls", "open", "--key", filepath.Join(dir, "officials", o+".key"), "--node", addrs[i], "--genesis", gen); err != nil {
			t.Fatal(err)
		}
	}
	waitPhase(t, clients[0], chain.PhaseOpen, 60*time.Second)
	v := newVoters(e, el)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rng := mrand.New(mrand.NewPCG(4, 4))
	for k := range ballots {
		if err := v.vote(ctx, clients[k%byz], g.Stations()[k%byz].ID, k, rng); err != nil {
			t.Fatal(err)
		}
	}
	for i, o := range []string{"clerk", "observer"} {
		if _, err := runBin(t, "polls", "close", "--key", filepath.Join(dir, "officials", o+".key"), "--node", addrs[i], "--genesis", gen); err != nil {
			t.Fatal(err)
		}
	}
	waitPhase(t, clients[0], chain.PhaseTallied, 90*time.Second)

	st, err := clients[0].Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f, err := verify.NewFollower(g, e.roll)
	if err != nil {
		t.Fatal(err)
	}
	complaint := false
	var byzAnn *ballot.KeyAnnouncement
	for _, b := range fetchAll(t, clients[0], st.Height) {
		a, err := f.Apply(b.Block, b.Certificate)
		if err != nil {
			t.Fatalf("block %d: %v", b.Height, err)
		}
		for _, tx := range a.Txs {
			switch tx.Kind {
			case chain.TxDKGResponse:
				rb, err := ballot.DecodeResponseBundle(tx.Payload)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range rb.Responses {
					if rb.Responder == 0 && r.Dealer == byz && !r.Approved {
						complaint = true
					}
				}
			case chain.TxKeyAnnouncement:
				ann, err := ballot.DecodeKeyAnnouncement(tx.Payload)
				if err != nil {
					t.Fatal(err)
				}
				if ann.Station == byz {
					byzAnn = ann
				}
			}
		}
	}
	fs := f.State()
	if !complaint {
		t.Errorf("station 0's complaint against the Byzantine dealer is not on the chain")
	}
	if byzAnn == nil || byzAnn.SameResult(fs.Key) {
		t.Errorf("the Byzantine station's announcement of another key is not on the chain")
	}
	if !slices.Equal(fs.Key.Qualified, []uint32{0, 1, 2}) {
		t.Errorf("the key is made of dealers %v, want 0, 1, 2", fs.Key.Qualified)
	}
	if fs.Phase != chain.PhaseTallied || fs.TallyError != "" || fs.Counted != ballots || !slices.Equal(fs.Result[0], v.counts) {
		t.Fatalf("verified chain: phase %v, tally error %q, %d counted, result %v, the plain choices %v", fs.Phase, fs.TallyError, fs.Counted, fs.Result[0], v.counts)
	}
	if fs.Shared&(1<<byz) != 0 {
		t.Errorf("the Byzantine station's decryption shares are on the chain")
	}
	byzLog, _ := os.ReadFile(nodes[byz].log)
	for _, want := range []string{"byzantine: sent a deal with a wrong share for station 0", "byzantine: sent the announcement of another key", "byzantine: sent decryption shares with bad proofs"} {
		if !bytes.Contains(byzLog, []byte(want)) {
			t.Errorf("the Byzantine station's log has no %q", want)
		}
	}
	// The honest stations refused its shares when it gossiped them.
	cfg, err := loadNodeConfig(mustHome(t, e.home(1)))
	if err != nil {
		t.Fatal(err)
	}
	if n := metricValue(t, scrape(t, cfg.Metrics), "urna_tx_rejected_total"); n == 0 {
		t.Errorf("urna_tx_rejected_total is 0 at an honest station")
	}
	out, err := runBin(t, "tally", "--genesis", gen, "--node", addrs[0], "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rep audit.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil || !rep.Verified || !rep.Tallied {
		t.Fatalf("urna tally: %v\n%s", err, out)
	}
	t.Logf("key generation attacked across processes: %v", time.Since(start).Round(time.Millisecond))
}
