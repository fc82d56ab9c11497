package audit

import (
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/urna-vote/urna/ballot"
	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/bft"
	"github.com/urna-vote/urna/chain/genesis"
	"github.com/urna-vote/urna/chain/verify"
)

// Auditor verifies an election block by block from its genesis, trusting
// nothing else. Every block goes through the chain's own state machine
// (chain.Machine.Apply: one definition of validity), and its certificate
// is checked; what the block held is then counted per check, and the
// auditor recomputes on its own what the machine keeps in its state: the
// aggregates from the counted ballots, the turnout per station, the key
// from the announcements, the result from the decryption shares. The first
// failure stops the audit: nothing after an invalid block can be judged.
// Safe for concurrent use (a live view reads Report while blocks arrive).
type Auditor struct {
	mu sync.Mutex

	g  *genesis.Genesis
	m  *chain.Machine
	kv *chain.MemKV
	st *chain.State
	e  *ballot.Election

	counts   map[string]uint64
	failures map[string]*Failure
	first    *Failure
	tallied  bool

	selections, contests uint64 // per ballot
	// What the auditor recomputes itself.
	acc           [][]*ballot.Accumulator
	turnout       []uint64
	cast          map[[32]byte]struct{} // ballot hashes counted
	credentials   map[[32]byte]struct{}
	challenged    map[[32]byte]struct{} // ballot hashes challenged
	announcements []*ballot.KeyAnnouncement
	shares        []*ballot.TallyShares // in the order they were committed
	evidence      []Equivocation
}

// ErrVerification is what every Failure is: errors.Is(err, ErrVerification)
// tells a failed check from an error of reading or fetching.
var ErrVerification = errors.New("verification failed")

// Is makes a Failure match ErrVerification.
func (f *Failure) Is(target error) bool { return target == ErrVerification }

// New starts an audit at the genesis (its canonical bytes) and the voter
// roll file. When expect is not nil, the genesis must have that
// fingerprint (the one published before the election). The Auditor is
// returned even when the genesis or roll fails, so that its Report says so;
// the error is then the *Failure.
func New(genesisBytes, rollBytes []byte, expect *[32]byte) (*Auditor, error) {
	a := &Auditor{
		counts: map[string]uint64{}, failures: map[string]*Failure{},
		cast: map[[32]byte]struct{}{}, credentials: map[[32]byte]struct{}{}, challenged: map[[32]byte]struct{}{},
	}
	fail := func(rule, detail string) (*Auditor, error) {
		return a, a.fail(&Failure{Check: CheckGenesis, Rule: rule, Tx: -1, Detail: detail})
	}
	g, err := genesis.Decode(genesisBytes)
	if err != nil {
		return fail("not-canonical", err.Error())
	}
	a.g = g
	if expect != nil && g.Fingerprint() != *expect {
		return fail("fingerprint", fmt.Sprintf("the genesis has fingerprint %x, the expected one is %x", g.Fingerprint(), expect[:]))
	}
	a.counts[CheckGenesis]++
	roll, err := verify.Roll(g, rollBytes)
	if err != nil {
		return fail("roll", err.Error())
	}
	m, err := chain.NewMachine(g, roll)
	if err != nil {
		return fail("machine", err.Error())
	}
	a.counts[CheckGenesis]++
	a.m, a.kv, a.st = m, chain.NewMemKV(), m.InitialState()
	if f := a.checkLabels(); f != nil {
		return a, a.fail(f)
	}
	man := g.Manifest()
	a.acc = make([][]*ballot.Accumulator, len(man.Contests))
	for ci, c := range man.Contests {
		a.contests++
		a.selections += uint64(len(c.Candidates))
		a.acc[ci] = make([]*ballot.Accumulator, len(c.Candidates))
		for si := range c.Candidates {
			a.acc[ci][si] = ballot.NewAccumulator()
		}
	}
	a.turnout = make([]uint64, g.N())
	a.announcements = make([]*ballot.KeyAnnouncement, g.N())
	return a, nil
}

// checkLabels checks that the genesis gives every contest and candidate a
// unique id and a name to show, the same as the ballots' manifest.
func (a *Auditor) checkLabels() *Failure {
	fail := func(detail string) *Failure {
		return &Failure{Check: CheckLabels, Rule: "label", Tx: -1, Detail: detail}
	}
	man := a.g.Manifest()
	contests := a.g.Contests()
	if len(contests) != len(man.Contests) {
		return fail("the genesis's contests and the ballot manifest differ")
	}
	ids := map[string]bool{}
	for ci, c := range contests {
		if c.ID != man.Contests[ci].ID || c.Title == "" || ids[c.ID] || len(c.Candidates) != len(man.Contests[ci].Candidates) {
			return fail(fmt.Sprintf("contest %d (%q) has no title, a duplicate id, or differs from the manifest", ci, c.ID))
		}
		ids[c.ID] = true
		a.counts[CheckLabels]++
		cands := map[string]bool{}
		for si, cand := range c.Candidates {
			if cand.ID != man.Contests[ci].Candidates[si] || cand.Name == "" || cands[cand.ID] {
				return fail(fmt.Sprintf("contest %q: candidate %d (%q) has no name, a duplicate id, or differs from the manifest", c.ID, si, cand.ID))
			}
			cands[cand.ID] = true
			a.counts[CheckLabels]++
		}
	}
	return nil
}

// fail records a failure (the first of its check, and the first of all)
// and returns it.
func (a *Auditor) fail(f *Failure) *Failure {
	if a.failures[f.Check] == nil {
		a.failures[f.Check] = f
	}
	if a.first == nil {
		a.first = f
	}
	return f
}

// Err is the first failure, or nil while every check has passed.
func (a *Auditor) Err() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.first == nil {
		return nil
	}
	return a.first
}

// Height is the last verified block's height.
func (a *Auditor) Height() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.st == nil {
		return 0
	}
	return a.st.Height
}

// Tallied reports whether the result is on the chain and verified.
func (a *Auditor) Tallied() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.tallied
}

// Genesis is the audited election's genesis (nil if it did not decode).
func (a *Auditor) Genesis() *genesis.Genesis { return a.g }

// Preverify checks the ballots of blocks that are about to be given to
// Block, in this order, in one batch over every core (see
// chain.Machine.PreverifyBlocks): it only saves time, it decides nothing.
// Keep a batch within MaxPreverify ballots.
func (a *Auditor) Preverify(blocks [][]byte) {
	a.mu.Lock()
	st, failed := a.st, a.first != nil
	a.mu.Unlock()
	if !failed {
		a.m.PreverifyBlocks(st, blocks) // without the lock: a live view reads Report meanwhile
	}
}

// MaxPreverify is the most ballots one Preverify batch should hold: the
// machine's cache of verified ballots must keep them all until they are
// applied.
const MaxPreverify = 1 << 16

// Block verifies the next block (its canonical bytes) and its commit
// certificate. It returns nil, or the *Failure that stops the audit (also
// after one: the audit does not go on past an invalid block). Blocks are
// given by one goroutine at a time; Report may be called meanwhile.
func (a *Auditor) Block(block, cert []byte) error {
	a.mu.Lock()
	st, first := a.st, a.first
	a.mu.Unlock()
	if first != nil {
		return first
	}
	// The machine's work runs without the lock, so that a live view can
	// read the report meanwhile; only this goroutine changes the state.
	ap, err := a.m.Apply(st, a.kv, block)
	a.mu.Lock()
	defer a.mu.Unlock()
	h := st.Height + 1
	if err != nil {
		if errors.Is(err, chain.ErrStateRead) {
			return err // not a verdict (never happens in memory)
		}
		return a.fail(blockFailure(h, err))
	}
	if f := a.checkCertificate(h, ap.Hash, cert); f != nil {
		return a.fail(f)
	}
	a.kv.Write(ap.Writes)
	prev := a.st
	a.st = ap.State
	a.counts[CheckChainLink]++
	a.counts[CheckHeaders]++
	a.counts[CheckCertificates]++
	if ap.Block.LastCommit != nil {
		a.counts[CheckCertificates]++
	}
	if f := a.count(ap); f != nil {
		return a.fail(f)
	}
	if prev.Phase == chain.PhaseSetup && a.st.Phase == chain.PhaseReady {
		if f := a.checkKey(); f != nil {
			return a.fail(f)
		}
	}
	if prev.Phase != chain.PhaseTallied && a.st.Phase == chain.PhaseTallied {
		if f := a.checkResult(); f != nil {
			return a.fail(f)
		}
		a.tallied = true
	}
	return nil
}

func (a *Auditor) checkCertificate(h uint64, hash [32]byte, raw []byte) *Failure {
	fail := func(rule, detail string) *Failure {
		return &Failure{Check: CheckCertificates, Rule: rule, Height: h, Tx: -1, Detail: detail}
	}
	c, err := bft.DecodeCertificate(raw)
	if err != nil {
		return fail("not-canonical", err.Error())
	}
	if c.Height != h || [32]byte(c.BlockHash) != hash {
		return fail("wrong-block", fmt.Sprintf("the certificate is for height %d block %x…, the block is %x…", c.Height, c.BlockHash[:6], hash[:6]))
	}
	if err := c.Verify(bft.Hash(a.g.Fingerprint()), a.m.Validators()); err != nil {
		return fail(certRule(err), err.Error())
	}
	return nil
}

// count counts what a valid block held, check by check, and recomputes
// the aggregates and the turnout from its ballots.
func (a *Auditor) count(ap *chain.Applied) *Failure {
	h := ap.State.Height
	var payloads [][]byte
	var at []int
	for i, tx := range ap.Txs {
		a.counts[CheckTxFormat]++
		a.counts[CheckPhases]++
		switch tx.Kind {
		case chain.TxDKGDeal, chain.TxDKGResponse, chain.TxDKGJustification:
			a.counts[CheckTxSignatures]++
			a.counts[CheckKeyGeneration]++
		case chain.TxKeyAnnouncement:
			a.counts[CheckTxSignatures]++
			a.counts[CheckKeyGeneration]++
			ka, err := ballot.DecodeKeyAnnouncement(tx.Payload)
			if err != nil || int(ka.Station) >= len(a.announcements) {
				return &Failure{Check: CheckKeyGeneration, Rule: "announcement", Height: h, Tx: i, Detail: "the chain accepted an announcement that does not decode"}
			}
			a.announcements[ka.Station] = ka
		case chain.TxApproval:
			a.counts[CheckTxSignatures]++
			a.counts[CheckApprovals]++
		case chain.TxBallot:
			a.counts[CheckTxSignatures]++
			a.counts[CheckEligibility]++
			a.counts[CheckOneBallot]++
			a.counts[CheckCiphertexts] += a.selections
			a.counts[CheckSelection] += a.selections
			a.counts[CheckContest] += a.contests
			payloads = append(payloads, tx.Payload)
			at = append(at, i)
		case chain.TxSpoiled:
			a.counts[CheckTxSignatures]++
			a.counts[CheckEligibility]++
			a.counts[CheckCiphertexts] += a.selections
			a.counts[CheckSelection] += a.selections
			a.counts[CheckContest] += a.contests
			a.counts[CheckChallenged]++
			sp, err := ballot.DecodeSpoiledBallot(tx.Payload)
			if err != nil {
				return &Failure{Check: CheckChallenged, Rule: "opening", Height: h, Tx: i, Detail: "the chain accepted a challenged ballot that does not decode"}
			}
			bh := sp.Ballot.Hash()
			if _, ok := a.cast[bh]; ok {
				return &Failure{Check: CheckChallenged, Rule: "challenged-after-cast", Height: h, Tx: i, Detail: "ballot " + sp.Ballot.TrackingCode() + " was cast and is challenged"}
			}
			a.challenged[bh] = struct{}{}
		case chain.TxTallyShares:
			a.counts[CheckTxSignatures]++
			a.counts[CheckShares] += a.selections
			ts, err := ballot.DecodeTallyShares(tx.Payload)
			if err != nil {
				return &Failure{Check: CheckShares, Rule: "bad-shares", Height: h, Tx: i, Detail: "the chain accepted shares that do not decode"}
			}
			a.shares = append(a.shares, ts)
		case chain.TxEvidence:
			a.counts[CheckEquivocation]++
			ev, err := bft.DecodeEvidence(tx.Payload)
			if err != nil {
				return &Failure{Check: CheckEquivocation, Rule: "bad-evidence", Height: h, Tx: i, Detail: "the chain accepted evidence that does not decode"}
			}
			q := Equivocation{StationIdx: ev.A.Validator, VoteHeight: ev.A.Height, VoteRound: ev.A.Round, VoteType: ev.A.Type.String(), BlockHeight: h, Tx: i}
			if st := a.g.Stations(); int(q.StationIdx) < len(st) {
				q.Station = st[q.StationIdx].ID
			}
			a.evidence = append(a.evidence, q)
		}
	}
	if len(payloads) > 0 {
		if f := a.aggregate(h, payloads, at); f != nil {
			return f
		}
	}
	return a.compareState(h)
}

// aggregate adds a block's cast ballots to the auditor's own sums and
// turnout, and checks that none was challenged or cast before.
func (a *Auditor) aggregate(h uint64, payloads [][]byte, at []int) *Failure {
	for k, d := range ballot.DecodeBallots(payloads) {
		if d.Err != nil || d.Ciphertexts == nil {
			return &Failure{Check: CheckAggregation, Rule: "counted-invalid", Height: h, Tx: at[k], Detail: "the chain counted a ballot whose ciphertexts do not decode"}
		}
		if _, ok := a.challenged[d.Hash]; ok {
			return &Failure{Check: CheckChallenged, Rule: "counted-after-challenge", Height: h, Tx: at[k], Detail: "ballot " + d.Ballot.TrackingCode() + " was challenged and is counted"}
		}
		if _, ok := a.credentials[d.Ballot.Credential]; ok {
			return &Failure{Check: CheckOneBallot, Rule: "already-voted", Height: h, Tx: at[k], Detail: "a credential is counted twice"}
		}
		a.credentials[d.Ballot.Credential] = struct{}{}
		a.cast[d.Hash] = struct{}{}
		s, ok := a.g.StationIndex(d.Ballot.Station)
		if !ok {
			return &Failure{Check: CheckTurnout, Rule: "unknown-station", Height: h, Tx: at[k], Detail: fmt.Sprintf("ballot counted at unknown station %q", d.Ballot.Station)}
		}
		a.turnout[s]++
		a.counts[CheckTurnout]++
		for ci := range d.Ciphertexts {
			for si := range d.Ciphertexts[ci] {
				a.acc[ci][si].AddDecoded(&d.Ciphertexts[ci][si])
			}
		}
		a.counts[CheckAggregation]++
	}
	return nil
}

// compareState compares the state the machine computed with what the
// auditor recomputed: the aggregates and the turnout.
func (a *Auditor) compareState(h uint64) *Failure {
	for ci := range a.acc {
		for si := range a.acc[ci] {
			if a.acc[ci][si].Total() != a.st.Aggregates[ci][si] {
				return &Failure{Check: CheckAggregation, Rule: "aggregate-mismatch", Height: h, Tx: -1, Detail: fmt.Sprintf("contest %d candidate %d: the state's aggregate is not the sum of the counted ballots", ci, si)}
			}
		}
	}
	var sum uint64
	for s, n := range a.turnout {
		sum += n
		if a.st.Turnout[s] != n {
			return &Failure{Check: CheckTurnout, Rule: "turnout-mismatch", Height: h, Tx: -1, Detail: fmt.Sprintf("station %d: the state counts %d ballots, the ballots on the chain are %d", s, a.st.Turnout[s], n)}
		}
	}
	if sum != a.st.Counted || uint64(len(a.challenged)) != a.st.Spoiled {
		return &Failure{Check: CheckTurnout, Rule: "count-mismatch", Height: h, Tx: -1, Detail: fmt.Sprintf("the state counts %d ballots and %d challenged, the chain holds %d and %d", a.st.Counted, a.st.Spoiled, sum, len(a.challenged))}
	}
	return nil
}

// checkKey checks, on its own, that the election key the chain adopted is
// announced identically by a quorum of stations.
func (a *Auditor) checkKey() *Failure {
	h := a.st.Height
	key := a.st.Key
	same := 0
	for _, ka := range a.announcements {
		if ka != nil && ka.SameResult(key) {
			same++
		}
	}
	if same < a.m.Validators().Quorum() || len(key.PublicShares) != a.g.N() {
		return &Failure{Check: CheckKeyGeneration, Rule: "no-quorum", Height: h, Tx: -1, Detail: fmt.Sprintf("%d stations announced the key, the quorum is %d", same, a.m.Validators().Quorum())}
	}
	e, err := a.m.Election(a.st)
	if err != nil {
		return &Failure{Check: CheckKeyGeneration, Rule: "bad-key", Height: h, Tx: -1, Detail: err.Error()}
	}
	a.e = e
	return nil
}

// checkResult recomputes the result from the decryption shares on the
// chain (the first t stations to post them, as the chain does) and the
// auditor's own aggregates, and compares it with the published counts.
func (a *Auditor) checkResult() *Failure {
	h := a.st.Height
	fail := func(check, rule, detail string) *Failure {
		return &Failure{Check: check, Rule: rule, Height: h, Tx: -1, Detail: detail}
	}
	if a.st.TallyError != "" {
		return fail(CheckResult, "tally-failure", "the chain's tally failed: "+string(a.st.TallyError))
	}
	t := a.g.Threshold()
	if len(a.shares) < t {
		return fail(CheckResult, "too-few-shares", fmt.Sprintf("%d stations' shares, the threshold is %d", len(a.shares), t))
	}
	aggs := make([][]ballot.Ciphertext, len(a.acc))
	for ci := range a.acc {
		aggs[ci] = make([]ballot.Ciphertext, len(a.acc[ci]))
		for si := range a.acc[ci] {
			aggs[ci][si] = a.acc[ci][si].Total()
		}
	}
	verified := make([]*ballot.VerifiedShares, a.g.N())
	for _, ts := range a.shares[:t] {
		v, err := a.e.VerifyTallyShares(ts, a.st.Key.PublicShares[ts.Station], aggs)
		if err != nil {
			return fail(CheckShares, "share-proof", fmt.Sprintf("station %d: %v", ts.Station, err))
		}
		verified[ts.Station] = v
	}
	result, err := a.e.Decrypt(aggs, verified, t, a.st.Counted)
	if err != nil {
		return fail(CheckResult, "combination", err.Error())
	}
	if !equalResult(result, a.st.Result) {
		return fail(CheckResult, "published-counts", fmt.Sprintf("the shares give %v, the chain publishes %v", result, a.st.Result))
	}
	man := a.g.Manifest()
	for ci, c := range man.Contests {
		var sum uint64
		for _, n := range result[ci] {
			sum += n
		}
		if sum > a.st.Counted*uint64(c.Limit) {
			return fail(CheckResult, "over-limit", fmt.Sprintf("contest %q has %d marks from %d ballots of limit %d", c.ID, sum, a.st.Counted, c.Limit))
		}
		a.counts[CheckResult] += uint64(len(c.Candidates))
	}
	return nil
}

func equalResult(x, y [][]uint64) bool {
	return slices.EqualFunc(x, y, func(a, b []uint64) bool { return slices.Equal(a, b) })
}

// CheckPublished compares counts that a station published (its status,
// say) with the verified result; a difference is a failure of the result
// check naming the source. Before the result is verified it does nothing.
func (a *Auditor) CheckPublished(source string, result [][]uint64) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.tallied || len(result) == 0 {
		return nil
	}
	if !equalResult(result, a.st.Result) {
		return a.fail(&Failure{Check: CheckResult, Rule: "published-counts", Height: a.st.Height, Tx: -1,
			Detail: fmt.Sprintf("%s publishes %v, the chain's verified result is %v", source, result, a.st.Result)})
	}
	return nil
}

// Fail records a failure found outside the chain's blocks (the record's
// framing, a station serving another chain) and returns it.
func (a *Auditor) Fail(f *Failure) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.fail(f)
}

// Count adds n to a check's count (for checks made outside the blocks,
// such as the record's frames).
func (a *Auditor) Count(check string, n uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.counts[check] += n
}

// Report returns the report so far: a copy, the caller may keep it.
func (a *Auditor) Report() *Report {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := &Report{Verified: a.first == nil, Tallied: a.tallied && a.first == nil, Turnout: []StationTurnout{}, Evidence: slices.Clone(a.evidence)}
	if r.Evidence == nil {
		r.Evidence = []Equivocation{}
	}
	if a.first != nil {
		f := *a.first
		r.FirstFailure = &f
	}
	for _, c := range checkOrder {
		ch := Check{Name: c.name, Counts: c.counts, Count: a.counts[c.name], Passed: a.failures[c.name] == nil}
		if f := a.failures[c.name]; f != nil {
			fc := *f
			ch.Failure = &fc
		}
		r.Checks = append(r.Checks, ch)
	}
	if a.g == nil {
		return r
	}
	fp := a.g.Fingerprint()
	r.Election, r.Fingerprint = a.g.ElectionID(), hex.EncodeToString(fp[:])
	if a.st == nil {
		return r
	}
	r.Height, r.Phase = a.st.Height, a.st.Phase.String()
	r.Counted, r.Challenged = a.st.Counted, a.st.Spoiled
	for s, st := range a.g.Stations() {
		r.Turnout = append(r.Turnout, StationTurnout{ID: st.ID, Name: st.Name, Ballots: a.st.Turnout[s]})
	}
	if r.Tallied {
		for ci, c := range a.g.Contests() {
			cr := ContestResult{ID: c.ID, Title: c.Title, Limit: c.Limit}
			for si, cand := range c.Candidates {
				cr.Candidates = append(cr.Candidates, CandidateResult{ID: cand.ID, Name: cand.Name, Votes: a.st.Result[ci][si]})
			}
			r.Results = append(r.Results, cr)
		}
	}
	return r
}
