package audit

import (
	"fmt"
)

// The checks, by the name they carry in a Report (docs/verification.md
// says what each one proves). Their order is the report's order.
const (
	CheckRecord        = "record-format"             // the record's framing and end frame
	CheckGenesis       = "genesis"                   // canonical genesis with the expected fingerprint; its voter roll
	CheckLabels        = "labels"                    // contest and candidate ids and names
	CheckChainLink     = "chain-link"                // every block decodes, is of this election, at the next height, after the previous block's hash
	CheckHeaders       = "block-headers"             // state hash, proposer, time, size limits
	CheckCertificates  = "certificates"              // ≥ ⌊2n/3⌋+1 distinct stations' valid precommits for exactly each block
	CheckTxFormat      = "transaction-format"        // canonical transactions of a known kind for this election
	CheckTxSignatures  = "signatures"                // station, official and credential signatures
	CheckPhases        = "phases"                    // every transaction in a phase that allows it
	CheckKeyGeneration = "key-generation"            // the DKG messages; a quorum of identical announcements gives the key
	CheckApprovals     = "approvals"                 // officials' approvals to open and close the polls
	CheckEligibility   = "eligibility"               // every ballot's credential on the roll, its station in the election
	CheckOneBallot     = "one-ballot-per-credential" // no credential cast twice, no ballot twice
	CheckCiphertexts   = "no-copied-ciphertext"      // no ciphertext on the chain twice
	CheckSelection     = "selection-proofs"          // every selection encrypts 0 or 1
	CheckContest       = "contest-proofs"            // every contest's marks add up to at most its limit
	CheckChallenged    = "challenged-ballots"        // challenged ballots opened correctly, never counted
	CheckAggregation   = "aggregation"               // the aggregates are the sums of the counted ballots only
	CheckTurnout       = "turnout"                   // ballots counted per station
	CheckShares        = "decryption-shares"         // every share's proof against its station's public share
	CheckResult        = "result"                    // the combination of t shares and the published counts
	CheckEquivocation  = "equivocation-evidence"     // evidence on the chain verifies (and is reported with its station)
	CheckSources       = "stations-agree"            // every station asked serves the same chain (urna tally --node)
)

// checkOrder is the report's order, with what each check counts.
var checkOrder = []struct{ name, counts string }{
	{CheckRecord, "frames"},
	{CheckGenesis, "genesis and roll"},
	{CheckLabels, "contests and candidates"},
	{CheckChainLink, "blocks"},
	{CheckHeaders, "headers"},
	{CheckCertificates, "certificates"},
	{CheckTxFormat, "transactions"},
	{CheckTxSignatures, "signatures"},
	{CheckPhases, "transactions"},
	{CheckKeyGeneration, "DKG messages"},
	{CheckApprovals, "approvals"},
	{CheckEligibility, "ballots"},
	{CheckOneBallot, "ballots cast"},
	{CheckCiphertexts, "ciphertexts"},
	{CheckSelection, "proofs"},
	{CheckContest, "proofs"},
	{CheckChallenged, "challenged ballots"},
	{CheckAggregation, "ballots summed"},
	{CheckTurnout, "ballots attributed"},
	{CheckShares, "share proofs"},
	{CheckResult, "totals"},
	{CheckEquivocation, "pieces of evidence"},
	{CheckSources, "blocks compared"},
}

// CheckNames lists every check name in report order.
func CheckNames() []string {
	out := make([]string, len(checkOrder))
	for i, c := range checkOrder {
		out[i] = c.name
	}
	return out
}

// Failure says what is wrong and where: the check, the rule within it, the
// block height (0: not in a block) and transaction index (-1: not a
// transaction). It is the error an Auditor returns.
type Failure struct {
	Check  string `json:"check"`
	Rule   string `json:"rule"`
	Height uint64 `json:"height"`
	Tx     int    `json:"tx"`
	Detail string `json:"detail"`
}

func (f *Failure) Error() string {
	where := ""
	switch {
	case f.Height > 0 && f.Tx >= 0:
		where = fmt.Sprintf("height %d, tx %d: ", f.Height, f.Tx)
	case f.Height > 0:
		where = fmt.Sprintf("height %d: ", f.Height)
	}
	return fmt.Sprintf("%s%s [%s/%s]: %s", where, "verification failed", f.Check, f.Rule, f.Detail)
}

// Check is one class of check in a report: how many things it verified and
// whether all of them passed. A check that failed holds its first failure.
type Check struct {
	Name    string   `json:"name"`
	Counts  string   `json:"counts"` // what Count counts
	Count   uint64   `json:"count"`
	Passed  bool     `json:"passed"`
	Failure *Failure `json:"failure,omitempty"`
}

// CandidateResult is one candidate's total.
type CandidateResult struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Votes uint64 `json:"votes"`
}

// ContestResult is one contest's totals, in ballot order.
type ContestResult struct {
	ID         string            `json:"id"`
	Title      string            `json:"title"`
	Limit      int               `json:"limit"`
	Candidates []CandidateResult `json:"candidates"`
}

// StationTurnout is the ballots counted at one station.
type StationTurnout struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Ballots uint64 `json:"ballots"`
}

// Equivocation is a piece of evidence on the chain: a station signed two
// different votes for one height, round and step.
type Equivocation struct {
	Station     string `json:"station"`
	StationIdx  uint32 `json:"station_index"`
	VoteHeight  uint64 `json:"vote_height"`
	VoteRound   uint32 `json:"vote_round"`
	VoteType    string `json:"vote_type"`
	BlockHeight uint64 `json:"block_height"`
	Tx          int    `json:"tx"`
}

// Report is the outcome of an audit, complete or so far.
type Report struct {
	Election    string `json:"election"`
	Fingerprint string `json:"fingerprint"` // hex
	// Verified is true when every check passed (so far, for an audit
	// that goes on).
	Verified bool `json:"verified"`
	// Tallied is true when the result is on the chain and verified.
	Tallied      bool             `json:"tallied"`
	Height       uint64           `json:"height"` // last verified block
	Phase        string           `json:"phase"`
	Counted      uint64           `json:"ballots_counted"`
	Challenged   uint64           `json:"ballots_challenged"`
	Checks       []Check          `json:"checks"`
	FirstFailure *Failure         `json:"first_failure,omitempty"`
	Results      []ContestResult  `json:"results,omitempty"`
	Turnout      []StationTurnout `json:"turnout"`
	Evidence     []Equivocation   `json:"evidence"`
}

// Check returns the check of this name (nil if there is none).
func (r *Report) Check(name string) *Check {
	for i := range r.Checks {
		if r.Checks[i].Name == name {
			return &r.Checks[i]
		}
	}
	return nil
}
