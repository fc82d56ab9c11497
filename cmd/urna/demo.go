package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/charmbracelet/x/term"

	"github.com/urna-vote/urna/ballot"
	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/audit"
	"github.com/urna-vote/urna/chain/genesis"
	"github.com/urna-vote/urna/chain/verify"
	"github.com/urna-vote/urna/net/api"
)

// runDemo runs a whole election on this machine: a temporary election made
// as `urna init` makes one, its stations as real `urna node` processes on
// loopback, the key ceremony, the polls opened by an official quorum as
// `urna polls` does, ballots cast from concurrent terminals through the
// client protocol (some challenged, some invalid and refused), the polls
// closed, the tally, the record exported as `urna export --node` does, and
// that record verified as `urna tally` does. Every process it starts is
// stopped when it ends, also on error or Ctrl-C.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", "urna demo\n  urna demo --voters 50 --seed 7 --json --keep /tmp/urna-demo", stderr)
	config := fs.String("config", "", "election config template (default: election-configs/mayor.yaml, looked up from the working directory upwards)")
	stations := fs.Int("stations", 4, "number of stations (the config's are kept, cut or extended to this many)")
	voters := fs.Int("voters", 200, "number of simulated voters who cast a ballot")
	seed := fs.Uint64("seed", 0, "seed of the voters' random choices (default: a random seed, printed)")
	asJSON := fs.Bool("json", false, "print one JSON document at the end instead of the report (progress goes to stderr)")
	keep := fs.String("keep", "", "make the election in this new directory and keep it (homes, logs, record); default: a temporary directory, removed")
	voteSelf := fs.Bool("vote", false, "cast a ballot yourself in the voter terminal, among the simulated voters")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *voters < 1 || *voters > 100000 {
		return fmt.Errorf("--voters %d: give 1 to 100000", *voters)
	}
	if *stations < 1 || *stations > 64 {
		return fmt.Errorf("--stations %d: give 1 to 64", *stations)
	}
	if *voteSelf && *asJSON {
		return fmt.Errorf("--vote needs the screen: leave out --json")
	}
	if *voteSelf && !term.IsTerminal(os.Stdin.Fd()) {
		return fmt.Errorf("--vote needs a terminal on standard input (you vote in the voter terminal)")
	}
	seedSet := false
	fs.Visit(func(f *flag.Flag) { seedSet = seedSet || f.Name == "seed" })
	if !seedSet {
		*seed = mrand.Uint64() % 1_000_000
	}
	progress := stdout
	if *asJSON {
		progress = stderr
	}
	d := &demo{
		out: &progressWriter{w: progress, start: time.Now()}, stdout: stdout, stderr: stderr,
		stations: *stations, voters: *voters, seed: *seed, json: *asJSON, voteSelf: *voteSelf,
	}
	cfgPath := *config
	if cfgPath == "" {
		p, err := findConfig("mayor.yaml")
		if err != nil {
			return err
		}
		cfgPath = p
	}
	// The election's directory, and its removal however the demo ends.
	if *keep != "" {
		d.dir, d.keep = *keep, true
	} else {
		tmp, err := os.MkdirTemp("", "urna-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		d.dir = filepath.Join(tmp, "election")
	}
	defer d.stopNodes()
	err := d.run(ctx, cfgPath)
	if err != nil {
		d.logTails()
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted: %w", err)
		}
	}
	return err
}

// demo is one run of urna demo.
type demo struct {
	out            *progressWriter
	stdout, stderr io.Writer
	stations       int
	voters         int
	seed           uint64
	json, voteSelf bool
	dir            string
	keep           bool

	genesis *genesis.Genesis
	roll    []byte
	codes   []ballot.VotingCode
	nodes   []*demoNode
	el      *ballot.Election
	ballots []demoBallot
	// challenged is the transaction of the first challenged ballot, which
	// must never be cast after all.
	challenged      []byte
	challengedVoter int
}

// demoBallot is a simulated voter's ballot: its plain choices (from the
// seed), whether the voter challenges a ballot first, and what the station
// answered.
type demoBallot struct {
	choices   ballot.Choices
	challenge bool
	tracking  string
	height    uint64
}

func (d *demo) run(ctx context.Context, cfgPath string) error {
	// 1. The election, as urna init makes it.
	cfg, form, err := genesis.LoadConfig(cfgPath)
	if err != nil {
		return err
	}
	if form != genesis.FormTemplate {
		return fmt.Errorf("%s already has keys: the demo needs a template (keys and roll hash left out)", cfgPath)
	}
	resizeStations(cfg, d.stations)
	var addrs []string
	for range cfg.Stations {
		p, err := freePort("udp")
		if err != nil {
			return err
		}
		addrs = append(addrs, net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	}
	// One code more than the simulated voters: the altered ballot's (it
	// must be refused for what it is, not for a used credential); and one
	// for the person at the keyboard.
	extra := 1
	if d.voteSelf {
		extra = 2
	}
	s, _, _, err := makeElection(cfg, d.dir, d.voters+extra, strings.Join(addrs, ","), "", "auto")
	if err != nil {
		return err
	}
	d.genesis, d.roll, d.codes = s.Genesis, s.Roll.Encode(), s.Codes
	g := d.genesis
	fp := g.Fingerprint()
	d.out.say("election %s (%s): %d stations, %d officials, %d voting codes; seed %d", g.ElectionID(), g.Election().Title, g.N(), len(g.Officials()), len(d.codes), d.seed)
	d.out.say("fingerprint %x", fp)
	d.out.say("election directory %s", d.dir)

	// 2. The stations, as real processes.
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding the urna binary to start the stations: %w", err)
	}
	for i, st := range g.Stations() {
		n, err := startDemoNode(self, filepath.Join(d.dir, "station-"+st.ID), st.ID)
		if err != nil {
			return fmt.Errorf("starting station %s: %w", st.ID, err)
		}
		d.nodes = append(d.nodes, n)
		d.out.say("station %-8s urna node pid %d on %s", st.ID, n.cmd.Process.Pid, addrs[i])
	}

	// 3. The key ceremony: wait for the election key, and check it as a
	// terminal does, from the certified setup blocks.
	d.out.say("key ceremony: the stations deal, respond and announce on the chain …")
	c0, err := d.dial(ctx, 0, 60*time.Second)
	if err != nil {
		return err
	}
	defer c0.Close()
	var follower *verify.Follower
	err = d.poll(ctx, 3*time.Minute, "the election key", func(ctx context.Context) (bool, error) {
		var err error
		d.el, follower, err = verify.ElectionKey(ctx, g, d.roll, blockSource(c0))
		return err == nil, err
	})
	if err != nil {
		return err
	}
	d.out.say("election key %x… ready at block %d, checked against the stations' certificates", d.el.KeyBytes[:8], follower.Height())

	// 4. The polls open: an official quorum, through different stations.
	if err := d.approvals(ctx, chain.ActionOpen, g.OpenQuorum()); err != nil {
		return err
	}
	if err := d.waitPhase(ctx, c0, chain.PhaseOpen, time.Minute); err != nil {
		return err
	}

	// 5. The voters, and the person at the keyboard.
	d.ballots = plannedBallots(g, d.voters, d.seed)
	var human *humanVoter
	if d.voteSelf {
		human = &humanVoter{code: d.codes[d.voters+1]}
	}
	if err := d.castAll(ctx, human); err != nil {
		return err
	}

	// 6. Invalid transactions: each refused for the rule it breaks.
	refused, err := d.refusals(ctx, c0)
	if err != nil {
		return err
	}

	// 7. The polls close; the stations post their decryption shares.
	if err := d.approvals(ctx, chain.ActionClose, g.CloseQuorum()); err != nil {
		return err
	}
	if err := d.waitPhase(ctx, c0, chain.PhaseClosed, time.Minute); err != nil {
		return err
	}
	late, _, err := d.el.NewBallot(ballot.DeriveCredential(g.ElectionID(), d.codes[d.voters]), g.Stations()[0].ID, d.ballots[0].choices, nil)
	if err != nil {
		return err
	}
	r, err := d.expectRefusal(ctx, c0, "a ballot after the polls closed", chain.NewBallotTx(late).Encode(), chain.ErrWrongPhase)
	if err != nil {
		return err
	}
	refused = append(refused, r)
	d.out.say("the stations post their decryption shares …")
	if err := d.waitPhase(ctx, c0, chain.PhaseTallied, 3*time.Minute); err != nil {
		return err
	}
	tracked, err := d.checkTracking(ctx)
	if err != nil {
		return err
	}

	// 8. The record, exported from a running station (every block checked
	// as it comes), then the stations stop.
	recordPath := filepath.Join(d.dir, "election.record")
	genesisPath := filepath.Join(d.dir, homeGenesis)
	last := g.Stations()[g.N()-1]
	if err := exportFromNode(ctx, last.Address, genesisPath, "", recordPath, d.out.indent()); err != nil {
		return err
	}
	c0.Close()
	d.stopNodes()
	d.out.say("stopped the %d stations", g.N())

	// 9. The verification of the record, trusting no station.
	d.out.say("verifying the record, trusting no station: urna tally --genesis %s --record %s", genesisPath, recordPath)
	ver, err := verifyRecord(ctx, genesisPath, recordPath)
	if err != nil {
		return err
	}
	return d.report(ver, human, refused, tracked, recordPath)
}

// resizeStations keeps, cuts or extends the template's stations to n, and
// keeps the DKG threshold valid for n (f < t ≤ n−f, t ≥ 2).
func resizeStations(cfg *genesis.Config, n int) {
	used := map[string]bool{}
	for _, st := range cfg.Stations {
		used[st.ID] = true
	}
	for i := len(cfg.Stations); i < n; i++ {
		id := fmt.Sprintf("s%d", i+1)
		for k := 1; used[id]; k++ {
			id = fmt.Sprintf("s%d-%d", i+1, k)
		}
		used[id] = true
		cfg.Stations = append(cfg.Stations, genesis.Station{ID: id, Name: fmt.Sprintf("Demo station %d", i+1)})
	}
	cfg.Stations = cfg.Stations[:n]
	f := (n - 1) / 3
	if t := cfg.DKG.Threshold; t <= f || t > n-f || t < 2 {
		cfg.DKG.Threshold = max(2, f+1)
	}
}

// findConfig finds election-configs/name in the working directory or the
// nearest parent that has it (go run ./cmd/urna runs from the repository).
func findConfig(name string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "election-configs", name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no election-configs/%s here or in a parent directory: run the demo from the urna repository, or give --config", name)
		}
		dir = parent
	}
}

// plannedBallots draws every simulated voter's choices from the seed: in
// each contest a random number of candidates from 0 (blank) to the limit;
// about one voter in forty challenges a ballot before casting.
func plannedBallots(g *genesis.Genesis, voters int, seed uint64) []demoBallot {
	rng := mrand.New(mrand.NewPCG(seed, 0x75726e61))
	contests := g.Contests()
	out := make([]demoBallot, voters)
	for k := range out {
		ch := make(ballot.Choices, len(contests))
		for ci, c := range contests {
			ch[ci] = make([]bool, len(c.Candidates))
			marks := rng.IntN(c.Limit + 1)
			if c.Limit == 1 {
				// One candidate in most ballots, a blank one now and then.
				marks = 1
				if rng.IntN(len(c.Candidates)+1) == 0 {
					marks = 0
				}
			}
			for _, j := range rng.Perm(len(c.Candidates))[:marks] {
				ch[ci][j] = true
			}
		}
		out[k].choices = ch
	}
	for _, k := range rng.Perm(voters)[:max(1, voters/40)] {
		out[k].challenge = true
	}
	return out
}

// expectedCounts adds up the plain choices.
func expectedCounts(g *genesis.Genesis, bs []demoBallot) [][]uint64 {
	out := make([][]uint64, len(g.Contests()))
	for ci, c := range g.Contests() {
		out[ci] = make([]uint64, len(c.Candidates))
	}
	for _, b := range bs {
		for ci := range b.choices {
			for j, on := range b.choices[ci] {
				if on {
					out[ci][j]++
				}
			}
		}
	}
	return out
}

// dial connects to station i, retrying while its node starts.
func (d *demo) dial(ctx context.Context, i int, timeout time.Duration) (*api.Client, error) {
	st := d.genesis.Stations()[i]
	var c *api.Client
	err := d.poll(ctx, timeout, "station "+st.ID+" to answer", func(ctx context.Context) (bool, error) {
		var err error
		c, err = api.Dial(ctx, st.Address, []ed25519.PublicKey{st.PublicKey}, nil)
		if err == nil {
			if _, err = c.Status(ctx); err != nil {
				c.Close()
			}
		}
		return err == nil, err
	})
	return c, err
}

// poll calls cond until it holds, a process of the demo dies, or timeout.
func (d *demo) poll(ctx context.Context, timeout time.Duration, what string, cond func(context.Context) (bool, error)) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		if err := d.nodesAlive(); err != nil {
			return err
		}
		cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		ok, err := cond(cctx)
		cancel()
		if ok {
			return nil
		}
		if err != nil {
			last = err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no %s after %v (last error: %v)", what, timeout, last)
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// waitPhase waits until a station says the election reached phase p.
func (d *demo) waitPhase(ctx context.Context, c *api.Client, p chain.Phase, timeout time.Duration) error {
	return d.poll(ctx, timeout, "phase "+p.String(), func(ctx context.Context) (bool, error) {
		st, err := c.Status(ctx)
		return err == nil && chain.Phase(st.Phase) >= p, err
	})
}

// approvals signs a quorum of officials' approvals, each through another
// station, with the code of urna polls.
func (d *demo) approvals(ctx context.Context, action chain.Action, quorum int) error {
	verb := map[chain.Action]string{chain.ActionOpen: "open", chain.ActionClose: "close"}[action]
	d.out.say("%d officials approve to %s the polls (urna polls %s):", quorum, verb, verb)
	for i := range quorum {
		seed, err := readKey(filepath.Join(d.dir, "officials", d.genesis.Officials()[i].ID+".key"))
		if err != nil {
			return err
		}
		st := d.genesis.Stations()[i%d.genesis.N()]
		actx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		err = approve(actx, d.genesis, ed25519.NewKeyFromSeed(seed), st.Address, "", action, d.out.indent())
		cancel()
		if err != nil {
			return fmt.Errorf("%s's approval: %w", d.genesis.Officials()[i].ID, err)
		}
	}
	return nil
}

// submit submits a transaction and waits until it is committed, retrying
// while the station is busy.
func submit(ctx context.Context, c *api.Client, tx []byte) (api.Receipt, error) {
	for attempt := 0; ; attempt++ {
		rc, err := c.SubmitAndWait(ctx, tx, nil)
		if !errors.Is(err, api.ErrBusy) || attempt >= 50 {
			return rc, err
		}
		select {
		case <-ctx.Done():
			return rc, ctx.Err()
		case <-time.After(time.Duration(min(attempt+1, 10)) * 50 * time.Millisecond):
		}
	}
}

// demoTerminals is the number of simulated voter terminals casting at once.
const demoTerminals = 8

// castAll casts every planned ballot from concurrent terminals, each
// connected to one station, with the person at the keyboard, if any, in
// the real voter terminal meanwhile.
func (d *demo) castAll(ctx context.Context, human *humanVoter) error {
	g := d.genesis
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	terms := min(demoTerminals, d.voters)
	d.out.say("%d voters cast their ballots from %d terminals at %d stations (%d challenge a ballot first) …", d.voters, terms, min(terms, g.N()), countChallenges(d.ballots))
	next := make(chan int)
	go func() {
		defer close(next)
		for k := range d.ballots {
			select {
			case next <- k:
			case <-ctx.Done():
				return
			}
		}
	}()
	var (
		mu                   sync.Mutex
		cast, challenged     int
		wg                   sync.WaitGroup
		clients              []*api.Client
		firstChallenged      []byte
		firstChallengedVoter int
	)
	for w := range terms {
		c, err := d.dial(ctx, w%g.N(), 30*time.Second)
		if err != nil {
			return err
		}
		clients = append(clients, c)
		defer c.Close()
		// A station admits ballots once it has applied the block that
		// opened the polls: it may lag the one the officials used.
		if err := d.waitPhase(ctx, c, chain.PhaseOpen, time.Minute); err != nil {
			return err
		}
	}
	for w := range terms {
		c, stationID := clients[w], g.Stations()[w%g.N()].ID
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range next {
				b := &d.ballots[k]
				cred := ballot.DeriveCredential(g.ElectionID(), d.codes[k])
				if b.challenge {
					spoiled, err := d.challenge(ctx, c, cred, stationID, b.choices)
					if err != nil {
						cancel(fmt.Errorf("voter %d's challenge at %s: %w", k+1, stationID, err))
						return
					}
					mu.Lock()
					challenged++
					if firstChallenged == nil {
						firstChallenged, firstChallengedVoter = spoiled, k
					}
					mu.Unlock()
				}
				bl, _, err := d.el.NewBallot(cred, stationID, b.choices, nil)
				if err != nil {
					cancel(err)
					return
				}
				rc, err := submit(ctx, c, chain.NewBallotTx(bl).Encode())
				if err != nil {
					cancel(fmt.Errorf("voter %d at %s: %w", k+1, stationID, err))
					return
				}
				mu.Lock()
				b.tracking, b.height = bl.TrackingCode(), rc.Height
				cast++
				mu.Unlock()
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	var humanErr chan error
	if human != nil {
		humanErr = make(chan error, 1)
		go func() { humanErr <- d.voteInTerminal(ctx, human) }()
	}
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for waiting := true; waiting; {
		select {
		case <-done:
			waiting = false
		case <-tick.C:
			mu.Lock()
			d.out.say("  %d of %d ballots cast, %d challenged", cast, d.voters, challenged)
			mu.Unlock()
			if err := d.nodesAlive(); err != nil {
				cancel(err)
			}
		}
	}
	if err := context.Cause(ctx); err != nil {
		return err
	}
	d.out.say("  %d of %d ballots cast, %d challenged: each committed in a block, its voter told which", cast, d.voters, challenged)
	if humanErr != nil {
		if err := <-humanErr; err != nil {
			return err
		}
	}
	d.challenged, d.challengedVoter = firstChallenged, firstChallengedVoter
	return nil
}

func countChallenges(bs []demoBallot) int {
	n := 0
	for _, b := range bs {
		if b.challenge {
			n++
		}
	}
	return n
}

// challenge seals a ballot and challenges it, as a voter who doubts the
// terminal does: the opened ballot is published (never counted), and
// anyone can check it decrypts to the choices. It returns the challenged
// ballot's own transaction, which must never be cast.
func (d *demo) challenge(ctx context.Context, c *api.Client, cred *ballot.Credential, stationID string, choices ballot.Choices) ([]byte, error) {
	b, nonces, err := d.el.NewBallot(cred, stationID, choices, nil)
	if err != nil {
		return nil, err
	}
	sp, err := d.el.Spoil(b, choices, nonces)
	if err != nil {
		return nil, err
	}
	revealed, err := d.el.VerifySpoiled(sp)
	if err != nil {
		return nil, err
	}
	if !slices.EqualFunc(revealed, choices, slices.Equal) {
		return nil, fmt.Errorf("the opened ballot shows %v, the voter chose %v", revealed, choices)
	}
	if _, err := submit(ctx, c, chain.NewSpoiledTx(sp).Encode()); err != nil {
		return nil, err
	}
	return chain.NewBallotTx(b).Encode(), nil
}

// refusal is an invalid transaction the stations refused, and the rule.
type refusal struct {
	Case string `json:"case"`
	Rule string `json:"rule"`
}

// refusals submits invalid transactions and checks that each is refused
// for the rule it breaks.
func (d *demo) refusals(ctx context.Context, c *api.Client) ([]refusal, error) {
	g := d.genesis
	station := g.Stations()[0].ID
	ballotOf := func(code ballot.VotingCode) (*ballot.Ballot, error) {
		b, _, err := d.el.NewBallot(ballot.DeriveCredential(g.ElectionID(), code), station, d.ballots[0].choices, nil)
		return b, err
	}
	again, err := ballotOf(d.codes[0])
	if err != nil {
		return nil, err
	}
	outsider, err := ballot.NewVotingCode(rand.Reader)
	if err != nil {
		return nil, err
	}
	stranger, err := ballotOf(outsider)
	if err != nil {
		return nil, err
	}
	// A terminal that changes the vote after the voter saw it sealed: two
	// encrypted marks swapped, on a voting code that has not voted.
	altered, err := ballotOf(d.codes[d.voters])
	if err != nil {
		return nil, err
	}
	sel := altered.Contests[0].Selections
	sel[0], sel[1] = sel[1], sel[0]
	_, notOfficial, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	cases := []struct {
		what string
		tx   []byte
		rule error
	}{
		{"a second ballot of voter 1", chain.NewBallotTx(again).Encode(), chain.ErrAlreadyVoted},
		{"a ballot of a voting code not on the roll", chain.NewBallotTx(stranger).Encode(), chain.ErrIneligible},
		{"a ballot altered after it was sealed (two encrypted marks swapped)", chain.NewBallotTx(altered).Encode(), chain.ErrBadBallot},
		{"an approval to close signed by someone who is no official", chain.NewApprovalTx(g.Fingerprint(), chain.ActionClose, notOfficial).Encode(), chain.ErrNotOfficial},
		{"bytes that are no transaction", []byte("vote for me"), chain.ErrTxEncoding},
	}
	if d.challenged != nil {
		cases = append(cases[:3:3], append([]struct {
			what string
			tx   []byte
			rule error
		}{{fmt.Sprintf("voter %d's challenged ballot, cast after all", d.challengedVoter+1), d.challenged, chain.ErrBallotChallenged}}, cases[3:]...)...)
	}
	d.out.say("invalid transactions, each refused for the rule it breaks:")
	var out []refusal
	for _, tc := range cases {
		r, err := d.expectRefusal(ctx, c, tc.what, tc.tx, tc.rule)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// expectRefusal submits a transaction that breaks rule and checks that
// the station refuses it naming that rule.
func (d *demo) expectRefusal(ctx context.Context, c *api.Client, what string, tx []byte, rule error) (refusal, error) {
	_, err := c.Submit(ctx, tx)
	var rej *api.RejectedError
	if !errors.As(err, &rej) {
		return refusal{}, fmt.Errorf("%s: %v, want a refusal (rule %s)", what, err, chain.RuleName(rule))
	}
	if !errors.Is(chain.RuleError(rej.Rule), rule) {
		return refusal{}, fmt.Errorf("%s: refused for rule %q, want %q (%s)", what, rej.Rule, chain.RuleName(rule), rej.Message)
	}
	d.out.say("  refused: %-68s rule %s", what, rej.Rule)
	return refusal{what, rej.Rule}, nil
}

// checkTracking looks one voter's tracking code up at each station: it
// must be cast, in the block that voter was told.
func (d *demo) checkTracking(ctx context.Context) (int, error) {
	n := 0
	for i, st := range d.genesis.Stations() {
		b := d.ballots[i%len(d.ballots)]
		c, err := d.dial(ctx, i, 30*time.Second)
		if err != nil {
			return n, err
		}
		tr, err := c.Tracking(ctx, b.tracking)
		c.Close()
		if err != nil {
			return n, fmt.Errorf("station %s: tracking code %s: %w", st.ID, b.tracking, err)
		}
		if chain.TrackingStatus(tr.Status) != chain.StatusCast || tr.Height != b.height {
			return n, fmt.Errorf("station %s: tracking code %s is %v at block %d; its voter was told cast at block %d", st.ID, b.tracking, chain.TrackingStatus(tr.Status), tr.Height, b.height)
		}
		n++
	}
	d.out.say("tracking codes: %d voters' codes looked up, one at each station: cast, in the block each voter was told", n)
	return n, nil
}

// demoJSON is urna demo --json.
type demoJSON struct {
	Election    string `json:"election"`
	Fingerprint string `json:"fingerprint"`
	Seed        uint64 `json:"seed"`
	Stations    int    `json:"stations"`
	Voters      int    `json:"voters"`
	Challenged  int    `json:"challenged"`
	// Counted is the number of ballots the verified record counts.
	Counted uint64 `json:"counted"`
	// Expected are the plain choices' counts, per contest, per candidate;
	// Counts the counts of the verified record.
	Expected map[string]map[string]uint64 `json:"expected"`
	Counts   map[string]map[string]uint64 `json:"counts"`
	Verified bool                         `json:"verified"`
	// Problems says why verified is false.
	Problems []string  `json:"problems,omitempty"`
	Refused  []refusal `json:"refused"`
	Tracked  int       `json:"tracking_codes_checked"`
	// Tally is urna tally's report on the exported record.
	Tally *audit.Report `json:"tally,omitempty"`
	// With --keep: where the election is.
	Dir     string   `json:"dir,omitempty"`
	Genesis string   `json:"genesis,omitempty"`
	Homes   []string `json:"homes,omitempty"`
	Record  string   `json:"record,omitempty"`
}

// report compares the verified record with the plain choices and prints
// the results and the verification report (or the JSON document).
func (d *demo) report(ver *verified, human *humanVoter, refused []refusal, tracked int, recordPath string) error {
	g := d.genesis
	expected := expectedCounts(g, d.ballots)
	problems := slices.Clone(ver.problems)
	counts := ver.result
	wantCounted := uint64(d.voters)
	// yours is the ballot of the person at the keyboard (--vote): the
	// record counts one ballot more than the simulated voters cast, and the
	// counts differ from theirs by one valid ballot.
	var yours [][]int
	if human != nil && ver.counted == wantCounted+1 && len(counts) == len(expected) {
		wantCounted++
		var err error
		if yours, err = humanBallot(g, expected, counts); err != nil {
			problems = append(problems, err.Error())
		}
	} else if len(ver.problems) == 0 && !slices.EqualFunc(counts, expected, slices.Equal) {
		problems = append(problems, "the verified counts differ from the plain choices' counts")
	}
	if ver.counted != wantCounted {
		problems = append(problems, fmt.Sprintf("the record counts %d ballots, %d were cast", ver.counted, wantCounted))
	}
	ok := len(problems) == 0
	named := func(r [][]uint64) map[string]map[string]uint64 {
		out := map[string]map[string]uint64{}
		for ci, c := range g.Contests() {
			if ci >= len(r) {
				break
			}
			out[c.ID] = map[string]uint64{}
			for j, cand := range c.Candidates {
				if j < len(r[ci]) {
					out[c.ID][cand.ID] = r[ci][j]
				}
			}
		}
		return out
	}
	if d.json {
		fp := g.Fingerprint()
		doc := demoJSON{
			Election: g.ElectionID(), Fingerprint: hex.EncodeToString(fp[:]), Seed: d.seed,
			Stations: g.N(), Voters: d.voters, Challenged: countChallenges(d.ballots), Counted: ver.counted,
			Expected: named(expected), Counts: named(counts), Verified: ok, Problems: problems,
			Refused: refused, Tracked: tracked, Tally: ver.audit,
		}
		if d.keep {
			doc.Dir, doc.Genesis, doc.Record = d.dir, filepath.Join(d.dir, homeGenesis), recordPath
			for _, st := range g.Stations() {
				doc.Homes = append(doc.Homes, filepath.Join(d.dir, "station-"+st.ID))
			}
		}
		enc := json.NewEncoder(d.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(doc); err != nil {
			return err
		}
	} else {
		w := d.stdout
		fmt.Fprintln(w)
		fmt.Fprint(w, ver.report)
		fmt.Fprintln(w)
		fmt.Fprintf(w, "The verified result against the simulated voters' plain choices:\n")
		for ci, c := range g.Contests() {
			fmt.Fprintf(w, "\n  %s\n", c.Title)
			for j, cand := range c.Candidates {
				var got uint64
				if ci < len(counts) && j < len(counts[ci]) {
					got = counts[ci][j]
				}
				mark := "✓"
				want := expected[ci][j]
				if yours != nil && slices.Contains(yours[ci], j) {
					want++
				}
				if got != want {
					mark = "✗"
				}
				you := ""
				if yours != nil && slices.Contains(yours[ci], j) {
					you = " + yours"
				}
				fmt.Fprintf(w, "    %-34s %6d   plain choices %6d%s %s\n", cand.Name, got, expected[ci][j], you, mark)
			}
		}
		for _, p := range problems {
			fmt.Fprintf(w, "PROBLEM: %s\n", p)
		}
		if ok {
			yoursToo := ""
			if yours != nil {
				yoursToo = " and yours"
			}
			fmt.Fprintf(w, "\nVERIFIED: the record's %d counted ballots tally to exactly the simulated voters' plain choices%s.\n", ver.counted, yoursToo)
			fmt.Fprintf(w, "The whole election took %v.\n", time.Since(d.out.start).Round(100*time.Millisecond))
		}
		if d.keep {
			fmt.Fprintf(w, "\nkept in %s: genesis.json, station-*/ (homes) and station-*.log, election.record\n", d.dir)
			fmt.Fprintf(w, "verify it again: urna tally --genesis %s --record %s\n", filepath.Join(d.dir, homeGenesis), recordPath)
		}
	}
	if !ok {
		return fmt.Errorf("the election did NOT verify: %s", strings.Join(problems, "; "))
	}
	return nil
}

// humanBallot finds the ballot of the person at the keyboard: the verified
// counts less the simulated voters', the candidates marked in each contest.
// It is an error if the difference is not one valid ballot.
func humanBallot(g *genesis.Genesis, expected, counts [][]uint64) ([][]int, error) {
	out := make([][]int, len(expected))
	for ci, c := range g.Contests() {
		for j := range expected[ci] {
			switch {
			case counts[ci][j] == expected[ci][j]:
			case counts[ci][j] == expected[ci][j]+1:
				out[ci] = append(out[ci], j)
			default:
				return nil, fmt.Errorf("contest %s, %s: %d counted, %d plain choices and at most 1 of yours", c.ID, c.Candidates[j].ID, counts[ci][j], expected[ci][j])
			}
		}
		if len(out[ci]) > c.Limit {
			return nil, fmt.Errorf("contest %s: %d marks more than the plain choices, the limit is %d", c.ID, len(out[ci]), c.Limit)
		}
	}
	return out, nil
}
