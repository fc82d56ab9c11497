package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/chaintest"
	"github.com/urna-vote/urna/chain/verify"
	"github.com/urna-vote/urna/net/api"
)

// Partitions between real hosts: four stations in containers on a private
// Docker network, cut apart by the kernel's packet filter in each
// container's own network namespace (iptables run from the host through
// nsenter: the images are empty, and the filter sits where a firewall or a
// broken switch would drop packets). A cut from A to B drops, at B, every
// packet from A's address: B no longer hears A, A still hears B. One cluster
// runs all of it, in order:
//
//  1. The key generation with west on no network at all (started with
//     --network none): the other three make the election key without it.
//     Connected afterwards, west catches up and serves as a station: its
//     precommits are in the certificates of later blocks.
//  2. North alone against three: the majority keeps committing; north
//     stalls (at most the block in flight when cut) and a ballot submitted
//     at north is not committed until the partition heals; then it is, and
//     north catches up.
//  3. Two against two: no side has a quorum, so the chain does not grow
//     (beyond the block in flight; a station behind may still fetch what
//     was decided before); healed, it goes on.
//  4. Asymmetric: east and south do not hear north, north hears everyone.
//     The three others keep committing.
//
// The end (closeAndVerify): the polls closed and tallied, every station the
// same chain byte for byte, so no side forked; every ballot a client was
// told is committed on it; no evidence; the record replays.
func TestPartitionsAcrossContainers(t *testing.T) {
	if testing.Short() {
		t.Skip("builds an image and starts four containers; skipped in -short")
	}
	dockerOrSkip(t)
	for _, tool := range []string{"nsenter", "iptables"} {
		if _, err := exec.LookPath(tool); err != nil || os.Getuid() != 0 {
			t.Skipf("SKIPPED: cutting links needs root and %s on the host (uid %d, %v): the partition test did NOT run", tool, os.Getuid(), err)
		}
	}
	start := time.Now()
	const voters = 600
	c := newDockerCluster(t, voters, map[int]bool{3: true})
	e := c.e
	f := c.fleet()
	mon := newMonitor(t, e, f.addr)
	since := func() time.Duration { return time.Since(start).Round(time.Millisecond) }
	height := func(i int) uint64 {
		h, err := mon.height(i)
		if err != nil {
			t.Fatalf("station %d: %v", i, err)
		}
		return h
	}

	// 1. The key generation without west.
	el := e.electionKey(t, e.dial(t, 0, f.addr(0)))
	keyAt := height(0)
	st := verifiedState(t, e, mon.client(t, 0), keyAt)
	if st.Key == nil || st.Dealt&(1<<3) != 0 || st.Announced&(1<<3) != 0 {
		t.Fatalf("at height %d: key %v, dealt %b, announced %b: want a key made without west", keyAt, st.Key != nil, st.Dealt, st.Announced)
	}
	t.Logf("election key made by %b without west (on no network) at height %d, %v", st.Announced, keyAt, since())
	c.connect(3)
	mon.catchUp(t, 3)
	joined := height(3)
	ws, err := mon.status(3)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("west connected and caught up at height %d (key share: %v), %v", joined, ws.KeyReady, since())

	openPolls(t, f)
	load := startLoad(t, f, el, voters-1) // the last voter votes at north while it is cut off
	load.waitCommitted(t, 10, 3*time.Minute, "the first ballots")

	// 2. North alone against three.
	for j := 1; j < 4; j++ {
		c.cut(0, j)
		c.cut(j, 0)
	}
	cutAt := height(0)
	majorityAt := height(1)
	ballotAtNorth := make(chan error, 1)
	go func() { ballotAtNorth <- load.castAt(0, voters-1, 10*time.Minute) }()
	load.progress(t, "ballots committed by the majority while north is cut off")
	load.progress(t, "more ballots committed by the majority while north is cut off")
	if h := height(0); h > cutAt+1 {
		t.Fatalf("north, cut off from every station, went from height %d to %d", cutAt, h)
	}
	if h := height(1); h < majorityAt+2 {
		t.Fatalf("the majority went from height %d only to %d", majorityAt, h)
	}
	select {
	case err := <-ballotAtNorth:
		t.Fatalf("a ballot submitted at north, cut off, ended while cut: %v", err)
	default:
	}
	c.heal()
	mon.catchUp(t, 0)
	select {
	case err := <-ballotAtNorth:
		if err != nil {
			t.Fatalf("the ballot submitted at north while it was cut off: %v", err)
		}
	case <-time.After(3 * time.Minute):
		t.Fatal("the ballot submitted at north while it was cut off was not committed after healing")
	}
	t.Logf("north cut off at height %d: it stayed at %d+≤1 while the majority went on from %d; healed, its ballot committed; %v", cutAt, cutAt, majorityAt, since())

	// 3. Two against two: no quorum anywhere.
	for _, a := range []int{0, 1} {
		for _, b := range []int{2, 3} {
			c.cut(a, b)
			c.cut(b, a)
		}
	}
	// A station behind the others may still fetch blocks decided before
	// the split from its own side; nothing new may be decided.
	var before [4]uint64
	top := uint64(0)
	for i := range 4 {
		before[i] = height(i)
		top = max(top, before[i])
	}
	// Longer than several rounds of timeouts (propose 3 s, growing).
	time.Sleep(15 * time.Second)
	for i := range 4 {
		if h := height(i); h > top+1 {
			t.Fatalf("station %d went from height %d to %d with the stations split two against two (the highest was at %d)", i, before[i], h, top)
		}
	}
	c.heal()
	load.progress(t, "ballots committed after the two halves healed")
	t.Logf("split two against two at heights %v: nobody went on; healed, %d ballots committed, %v", before, load.committed(), since())

	// 4. Asymmetric: east and south do not hear north; north hears all.
	c.cut(0, 1)
	c.cut(0, 2)
	asymAt := height(1)
	load.progress(t, "ballots committed while east and south do not hear north")
	load.progress(t, "more ballots committed while east and south do not hear north")
	if h := height(1); h < asymAt+2 {
		t.Fatalf("east went from height %d only to %d", asymAt, h)
	}
	c.heal()
	mon.catchUp(t, 0)
	t.Logf("asymmetric cut (east, south not hearing north) from height %d to %d; healed, %v", asymAt, height(1), since())

	load.finish(t)
	end := closeAndVerify(t, f, mon, load)
	if end.lastSigned[3].height <= joined {
		t.Fatalf("west's last precommit in a certificate is at height %d, not after it joined at %d: it did not serve as a station", end.lastSigned[3].height, joined)
	}
	t.Logf("partitions: %d ballots committed, %d counted, head %d (%x…), same chain on 4 containers, west's last precommit at %d; %v",
		end.told, end.counted, end.head, end.headHash[:6], end.lastSigned[3].height, since())
}

// verifiedState verifies blocks 1..head from a station and returns the
// state after them.
func verifiedState(t *testing.T, e *testElection, c *api.Client, head uint64) *chain.State {
	t.Helper()
	fl, err := verify.NewFollower(e.genesis, e.roll)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range fetchAll(t, c, head) {
		if _, err := fl.Apply(b.Block, b.Certificate); err != nil {
			t.Fatalf("block %d: %v", b.Height, err)
		}
	}
	return fl.State()
}

// dockerOrSkip skips the test, loudly, when no Docker daemon answers.
func dockerOrSkip(t *testing.T) {
	t.Helper()
	if _, err := docker("info", "--format", "{{.ServerVersion}}"); err != nil {
		t.Skipf("SKIPPED: no Docker daemon answers (%v): the test across containers did NOT run", err)
	}
}

// dockerCluster is an election's four stations in containers on a
// private Docker network, each reachable by its station id as a network
// alias. Everything it makes carries the label dockerLabel and is removed
// when the test ends, even on failure.
type dockerCluster struct {
	t        *testing.T
	run      string // name prefix, network name, label value
	image    string
	e        *testElection
	stations []*dockerStation
}

// newDockerCluster builds the image (the static test binary in an empty
// file system), makes the network and the election, and starts the
// stations; those in detached start on no network (connect joins them).
func newDockerCluster(t *testing.T, voters int, detached map[int]bool) *dockerCluster {
	t.Helper()
	var idb [4]byte
	rand.Read(idb[:])
	c := &dockerCluster{t: t, run: "urna-e2e-" + hex.EncodeToString(idb[:])}
	c.image = c.run + ":test"
	bin := urnaBinary(t)
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "tmp"), 0o1777); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(bin); err != nil || os.WriteFile(filepath.Join(root, "urna"), b, 0o755) != nil {
		t.Fatal(err)
	}
	tarFile := filepath.Join(t.TempDir(), "root.tar")
	if out, err := exec.Command("tar", "-C", root, "-cf", tarFile, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v %s", err, out)
	}
	if _, err := docker("import", "--change", `ENTRYPOINT ["/urna"]`, "--change", "ENV QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING=true",
		"--change", "LABEL "+dockerLabel+"="+c.run, tarFile, c.image); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { docker("rmi", "-f", c.image) })
	if _, err := docker("network", "create", "--label", dockerLabel+"="+c.run, c.run); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { docker("network", "rm", c.run) })

	dir := filepath.Join(t.TempDir(), "e")
	if _, err := runBin(t, "init", "--config", chaintest.ConfigPath("mayor"), "--out", dir, "--voters", fmt.Sprint(voters),
		"--addresses", "north:7100,east:7100,south:7100,west:7100", "--listen-host", "0.0.0.0", "--metrics", "off"); err != nil {
		t.Fatal(err)
	}
	c.e = loadTestElection(t, dir)
	c.stations = make([]*dockerStation, 4)
	t.Cleanup(func() {
		if t.Failed() {
			for _, s := range c.stations {
				if s != nil {
					logs, _ := docker("logs", "--tail", "30", s.name)
					t.Logf("%s:\n%s", s.name, logs)
					if pid, err := docker("inspect", "-f", "{{.State.Pid}}", s.name); err == nil && pid != "0" {
						out, _ := exec.Command("nsenter", "-t", pid, "-n", "iptables", "-L", "INPUT", "-v", "-n").CombinedOutput()
						t.Logf("%s's packet filter now:\n%s", s.name, out)
					}
				}
			}
		}
		for _, s := range c.stations {
			if s != nil {
				docker("rm", "-f", s.name)
			}
		}
	})
	for i, st := range c.e.genesis.Stations() {
		s := &dockerStation{id: st.ID, name: c.run + "-" + st.ID}
		c.stations[i] = s
		network := []string{"--network", c.run, "--network-alias", st.ID}
		if detached[i] {
			network = []string{"--network", "none"}
		}
		args := append([]string{"run", "-d", "--name", s.name, "--label", dockerLabel + "=" + c.run}, network...)
		args = append(args, "--user", fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid()),
			"-v", dir+":/election", c.image, "node", "--home", "/election/station-"+st.ID)
		if _, err := docker(args...); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// ip is station i's address on the network now (it changes when it is
// reconnected).
func (c *dockerCluster) ip(i int) string {
	c.t.Helper()
	var ip string
	waitFor(c.t, 30*time.Second, c.stations[i].id+"'s address", func() (bool, error) {
		var err error
		ip, err = c.ipNow(i)
		return err == nil, err
	})
	return ip
}

// ipNow is station i's address on the network, or an error if it has none.
func (c *dockerCluster) ipNow(i int) (string, error) {
	out, err := docker("inspect", "-f", "{{with index .NetworkSettings.Networks \""+c.run+"\"}}{{.IPAddress}}{{end}}", c.stations[i].name)
	if err == nil && out == "" {
		err = fmt.Errorf("%s is on no network", c.stations[i].name)
	}
	return out, err
}

func (c *dockerCluster) fleet() *fleet {
	return &fleet{
		e: c.e,
		// Called from the load's goroutines too: no t.Fatal here; a station
		// without an address is dialled at one that fails.
		addr: func(i int) string {
			ip, err := c.ipNow(i)
			if err != nil {
				return "0.0.0.0:1"
			}
			return ip + ":7100"
		},
		stop: func(i int) error {
			if _, err := docker("stop", "-t", "30", c.stations[i].name); err != nil {
				return err
			}
			code, err := docker("inspect", "-f", "{{.State.ExitCode}}", c.stations[i].name)
			if err != nil || code != "0" {
				return fmt.Errorf("%s exited with %s %v", c.stations[i].name, code, err)
			}
			return nil
		},
	}
}

// connect puts a detached station on the network under its alias.
func (c *dockerCluster) connect(i int) {
	c.t.Helper()
	if _, err := docker("network", "disconnect", "none", c.stations[i].name); err != nil {
		c.t.Fatal(err)
	}
	if _, err := docker("network", "connect", "--alias", c.stations[i].id, c.run, c.stations[i].name); err != nil {
		c.t.Fatal(err)
	}
}

// iptables runs iptables in station i's network namespace.
func (c *dockerCluster) iptables(i int, args ...string) {
	c.t.Helper()
	pid, err := docker("inspect", "-f", "{{.State.Pid}}", c.stations[i].name)
	if err != nil {
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "nsenter", append([]string{"-t", pid, "-n", "iptables"}, args...)...).CombinedOutput()
	if err != nil {
		c.t.Fatalf("iptables %s in %s: %v %s", strings.Join(args, " "), c.stations[i].name, err, out)
	}
	c.t.Logf("%s iptables %s in %s", time.Now().UTC().Format("15:04:05.000"), strings.Join(args, " "), c.stations[i].id)
}

// cut makes station to drop every packet from station from: to no longer
// hears from; from still hears to.
func (c *dockerCluster) cut(from, to int) {
	c.t.Helper()
	c.iptables(to, "-A", "INPUT", "-s", c.ip(from), "-j", "DROP")
}

// heal removes every cut.
func (c *dockerCluster) heal() {
	c.t.Helper()
	for i := range c.stations {
		c.iptables(i, "-F", "INPUT")
	}
}
