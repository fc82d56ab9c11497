package chain

import "errors"

// ruleNames gives every transaction rule a stable name, the one the client
// protocol carries when a station refuses a transaction. Most specific
// first: an error may wrap a more general one (ErrBadBallot wraps the
// ballot package's errors, never the other way round).
var ruleNames = []struct {
	err  error
	name string
}{
	{ErrAlreadyVoted, "already-voted"},
	{ErrIneligible, "ineligible"},
	{ErrWrongPhase, "wrong-phase"},
	{ErrBallotChallenged, "ballot-challenged"},
	{ErrBallotCast, "ballot-cast"},
	{ErrTrackingClash, "tracking-clash"},
	{ErrCiphertextReused, "ciphertext-reused"},
	{ErrDuplicate, "duplicate"},
	{ErrBadBallot, "bad-ballot"},
	{ErrWrongElection, "wrong-election"},
	{ErrUnknownStation, "unknown-station"},
	{ErrNotOfficial, "not-official"},
	{ErrNotStation, "not-station"},
	{ErrBadTxSignature, "bad-signature"},
	{ErrUnsignedTx, "unsigned"},
	{ErrNeedlessSigner, "needless-signer"},
	{ErrBadApproval, "bad-approval"},
	{ErrDKGClosed, "dkg-closed"},
	{ErrNoDeal, "no-deal"},
	{ErrNoComplaint, "no-complaint"},
	{ErrBadDKGMessage, "bad-dkg-message"},
	{ErrBadShares, "bad-shares"},
	{ErrBadEvidence, "bad-evidence"},
	{ErrUnknownElection, "key-not-ready"},
	{ErrUnknownKind, "unknown-kind"},
	{ErrBadPayload, "bad-payload"},
	{ErrTxEncoding, "not-canonical"},
}

// RuleName names the transaction rule err breaks ("already-voted",
// "wrong-phase", ...; see docs/network.md for the list), or "" when err
// wraps none of the chain's transaction rules.
func RuleName(err error) string {
	for _, r := range ruleNames {
		if errors.Is(err, r.err) {
			return r.name
		}
	}
	return ""
}

// RuleError returns the sentinel error of a rule name (nil for a name it
// does not know), so that a client can match a station's refusal with
// errors.Is as if the chain had refused the transaction itself.
func RuleError(name string) error {
	for _, r := range ruleNames {
		if r.name == name {
			return r.err
		}
	}
	return nil
}
