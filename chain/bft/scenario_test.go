package bft_test

import (
	"bufio"
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/urna-vote/urna/chain/bft"
)

// Scenario tests: each file in testdata/scenarios is one rule of Algorithm 1 told as
// the message sequence validator v0 (the core under test) sees. The language:
//
//	validators N            set size (before start; default 4)
//	height H                first height (before start; default 1)
//	start                   create the core and call Start
//	deliver proposal rR B [pol P] [from vI]   a signed proposal of block B (default: the round's proposer)
//	deliver prevote|precommit rR B|nil from vI   a signed vote
//	timeout propose|prevote|precommit rR       a timer fires
//	value rR B              answer NeedProposal with block B
//	advance                 call Advance after a commit
//	expect prevote|precommit rR B|nil [from vI]  the next broadcast message (default from v0)
//	expect proposal rR B pol P                   the next broadcast message
//	expect nothing          no broadcast message left from the last action
//	expect timer STEP rR    the last action scheduled this timer
//	expect need-proposal rR the last action asked for a block
//	expect commit B rR      the last action decided B with a certificate of round R
//	expect evidence vI      the last action produced evidence against vI
//	expect drop REASON      the last action dropped an input for REASON
//	expect state k=v ...    round=R step=S locked=B@R|none valid=B@R|none
//
// Block names are letters; block B at height h is testBlock(h, "B"), and a name that
// starts with "BAD" is a block Validate rejects. Every broadcast message of an action
// must be matched by an expect line before the next action.
func TestScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/scenarios/*.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no scenario files")
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) { runScenario(t, f) })
	}
}

type scenario struct {
	t      *testing.T
	file   string
	line   int
	n      int
	height uint64
	privs  []ed25519.PrivateKey
	vals   *bft.ValidatorSet
	core   *bft.Core
	ready  bft.Ready
	msgs   []bft.Message // broadcast messages of the last action not yet expected
}

func runScenario(t *testing.T, file string) {
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := &scenario{t: t, file: file, n: 4, height: 1}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		s.line++
		text := sc.Text()
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		fields := strings.Fields(text)
		if len(fields) == 0 {
			continue
		}
		s.exec(fields)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	s.checkConsumed()
}

func (s *scenario) fatalf(format string, args ...any) {
	s.t.Helper()
	s.t.Fatalf("%s:%d: %s", s.file, s.line, fmt.Sprintf(format, args...))
}

func (s *scenario) exec(f []string) {
	s.t.Helper()
	switch f[0] {
	case "validators":
		s.n = s.atoi(f, 1)
	case "height":
		s.height = uint64(s.atoi(f, 1))
	case "start":
		s.privs, s.vals = testKeys("scenario", s.n)
		g := &guardSigner{priv: s.privs[0], state: &signerState{}, guarded: true}
		c, err := bft.New(bft.Config{ChainID: testChainID, Validators: s.vals, Self: 0, Height: s.height,
			Timeouts: testTimeouts(), Signer: g.Signer(), Validate: testValidate})
		if err != nil {
			s.fatalf("New: %v", err)
		}
		s.core = c
		s.act(c.Start())
	case "deliver":
		s.act(s.core.Step(bft.Message(s.parseMessage(f[1:], false))))
	case "timeout":
		s.act(s.core.Step(bft.Timeout{Height: s.core.Height(), Round: s.round(f, 2), Step: s.step(f, 1)}))
	case "value":
		s.act(s.core.Step(bft.ProposalValue{Height: s.core.Height(), Round: s.round(f, 1), Block: s.block(f[2])}))
	case "advance":
		s.act(s.core.Advance())
	case "expect":
		s.expect(f[1:])
	default:
		s.fatalf("unknown command %q", f[0])
	}
}

func (s *scenario) act(r bft.Ready) {
	s.t.Helper()
	s.checkConsumed()
	s.ready = r
	s.msgs = slices.Clone(r.Messages)
}

func (s *scenario) checkConsumed() {
	s.t.Helper()
	if len(s.msgs) > 0 {
		var names []string
		for _, m := range s.msgs {
			names = append(names, m.String())
		}
		s.fatalf("unexpected broadcast before this line: %s", strings.Join(names, "; "))
	}
}

func (s *scenario) expect(f []string) {
	s.t.Helper()
	switch f[0] {
	case "prevote", "precommit", "proposal":
		want := s.parseMessage(f, true)
		if len(s.msgs) == 0 {
			s.fatalf("expected %s, nothing was broadcast", want)
		}
		got := s.msgs[0]
		s.msgs = s.msgs[1:]
		if !sameMessage(got, want) {
			s.fatalf("expected %s, got %s", want, got)
		}
	case "nothing":
		s.checkConsumed()
	case "timer":
		want := bft.Timeout{Height: s.core.Height(), Round: s.round(f, 2), Step: s.step(f, 1)}
		for _, tm := range s.ready.Timers {
			if tm.Height == want.Height && tm.Round == want.Round && tm.Step == want.Step {
				return
			}
		}
		s.fatalf("no timer %s r%d in %v", want.Step, want.Round, s.ready.Timers)
	case "need-proposal":
		if np := s.ready.NeedProposal; np == nil || np.Round != s.round(f, 1) {
			s.fatalf("expected a proposal request for r%d, got %+v", s.round(f, 1), s.ready.NeedProposal)
		}
	case "commit":
		c := s.ready.Commit
		if c == nil {
			s.fatalf("expected a commit, got none")
		}
		if want := testBlock(c.Height, f[1]); string(c.Block) != string(want) || c.Certificate.Round != s.round(f, 2) {
			s.fatalf("expected commit %q in r%d, got %q in r%d", want, s.round(f, 2), c.Block, c.Certificate.Round)
		}
		if err := c.Verify(testChainID, s.vals); err != nil {
			s.fatalf("commit certificate: %v", err)
		}
	case "evidence":
		v := uint32(s.validator(f[1]))
		for _, e := range s.ready.Evidence {
			if e.A.Validator == v {
				if err := e.Verify(testChainID, s.vals); err != nil {
					s.fatalf("evidence does not verify: %v", err)
				}
				return
			}
		}
		s.fatalf("no evidence against v%d in %v", v, s.ready.Evidence)
	case "drop":
		for _, d := range s.ready.Dropped {
			if d.Reason.String() == f[1] {
				return
			}
		}
		s.fatalf("no drop %q in %v", f[1], s.ready.Dropped)
	case "state":
		st := s.core.State()
		for _, kv := range f[1:] {
			k, v, _ := strings.Cut(kv, "=")
			var got string
			switch k {
			case "round":
				got = strconv.Itoa(int(st.Round))
			case "step":
				got = st.Step.String()
			case "height":
				got = strconv.FormatUint(st.Height, 10)
			case "locked":
				got = s.lockString(st.LockedRound, st.LockedHash)
			case "valid":
				got = s.lockString(st.ValidRound, st.ValidHash)
			default:
				s.fatalf("unknown state key %q", k)
			}
			if got != v {
				s.fatalf("state %s = %s, want %s", k, got, v)
			}
		}
	default:
		s.fatalf("unknown expectation %q", f[0])
	}
}

func (s *scenario) lockString(r int64, h bft.Hash) string {
	if r < 0 {
		return "none"
	}
	for c := 'A'; c <= 'Z'; c++ {
		if bft.HashValue(s.block(string(c))) == h {
			return fmt.Sprintf("%c@%d", c, r)
		}
	}
	return fmt.Sprintf("%s@%d", h, r)
}

// parseMessage parses "prevote rR B from vI" or "proposal rR B [pol P] [from vI]".
func (s *scenario) parseMessage(f []string, own bool) bft.Message {
	s.t.Helper()
	if len(f) < 3 {
		s.fatalf("message needs a type, a round and a block")
	}
	r := s.round(f, 1)
	h := s.core.Height()
	from := -1
	pol := int32(-1)
	for i := 3; i+1 < len(f); i += 2 {
		switch f[i] {
		case "from":
			from = s.validator(f[i+1])
		case "pol":
			pol = int32(s.atoi(f, i+1))
		default:
			s.fatalf("unknown option %q", f[i])
		}
	}
	switch f[0] {
	case "proposal":
		if from < 0 {
			from = int(s.vals.Proposer(h, r))
		}
		return bft.Message{Proposal: signProposal(s.privs[from], h, r, pol, s.block(f[2]), uint32(from))}
	case "prevote", "precommit":
		if from < 0 {
			if !own {
				s.fatalf("a delivered vote needs 'from vI'")
			}
			from = 0
		}
		t := bft.Prevote
		if f[0] == "precommit" {
			t = bft.Precommit
		}
		var hash bft.Hash
		if f[2] != "nil" {
			hash = bft.HashValue(s.block(f[2]))
		}
		return bft.Message{Vote: signVote(s.privs[from], t, h, r, hash, uint32(from))}
	}
	s.fatalf("unknown message type %q", f[0])
	return bft.Message{}
}

func sameMessage(a, b bft.Message) bool {
	switch {
	case a.Vote != nil && b.Vote != nil:
		x, y := a.Vote, b.Vote
		return x.Type == y.Type && x.Height == y.Height && x.Round == y.Round && x.BlockHash == y.BlockHash && x.Validator == y.Validator
	case a.Proposal != nil && b.Proposal != nil:
		x, y := a.Proposal, b.Proposal
		return x.Height == y.Height && x.Round == y.Round && x.POLRound == y.POLRound && string(x.Block) == string(y.Block) && x.Proposer == y.Proposer
	}
	return false
}

func (s *scenario) block(name string) []byte {
	if strings.HasPrefix(name, "BAD") {
		return testBlock(s.core.Height(), "INVALID-"+name)
	}
	return testBlock(s.core.Height(), name)
}

func (s *scenario) atoi(f []string, i int) int {
	s.t.Helper()
	if i >= len(f) {
		s.fatalf("missing argument %d", i)
	}
	n, err := strconv.Atoi(f[i])
	if err != nil {
		s.fatalf("bad number %q", f[i])
	}
	return n
}

func (s *scenario) round(f []string, i int) uint32 {
	s.t.Helper()
	if i >= len(f) || !strings.HasPrefix(f[i], "r") {
		s.fatalf("expected a round rN at argument %d", i)
	}
	n, err := strconv.ParseUint(f[i][1:], 10, 32)
	if err != nil {
		s.fatalf("bad round %q", f[i])
	}
	return uint32(n)
}

func (s *scenario) validator(a string) int {
	s.t.Helper()
	n, err := strconv.Atoi(strings.TrimPrefix(a, "v"))
	if err != nil || !strings.HasPrefix(a, "v") || n >= s.n {
		s.fatalf("bad validator %q", a)
	}
	return n
}

func (s *scenario) step(f []string, i int) bft.RoundStep {
	s.t.Helper()
	switch f[i] {
	case "propose":
		return bft.StepPropose
	case "prevote":
		return bft.StepPrevote
	case "precommit":
		return bft.StepPrecommit
	}
	s.fatalf("bad step %q", f[i])
	return 0
}
