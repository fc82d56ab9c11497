package audit

import (
	"errors"

	"github.com/urna-vote/urna/ballot"
	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/bft"
)

// blockFailure turns an error of chain.Machine.Apply into the check and
// rule it broke: a header rule, or (a *chain.TxError) a transaction's.
func blockFailure(height uint64, err error) *Failure {
	f := &Failure{Height: height, Tx: -1, Detail: err.Error()}
	var te *chain.TxError
	if errors.As(err, &te) {
		f.Tx = te.Index
		f.Check, f.Rule = txRule(te.Kind, te.Err)
		return f
	}
	switch {
	case errors.Is(err, chain.ErrBlockEncoding):
		f.Check, f.Rule = CheckChainLink, "not-canonical-block"
	case errors.Is(err, chain.ErrWrongChain):
		f.Check, f.Rule = CheckChainLink, "wrong-election"
	case errors.Is(err, chain.ErrBadHeight):
		f.Check, f.Rule = CheckChainLink, "wrong-height"
	case errors.Is(err, chain.ErrBadPrevHash):
		f.Check, f.Rule = CheckChainLink, "previous-hash"
	case errors.Is(err, chain.ErrBadStateHash):
		f.Check, f.Rule = CheckHeaders, "state-hash"
	case errors.Is(err, chain.ErrBadTime):
		f.Check, f.Rule = CheckHeaders, "time"
	case errors.Is(err, chain.ErrBadProposer):
		f.Check, f.Rule = CheckHeaders, "proposer"
	case errors.Is(err, chain.ErrBlockTooLarge):
		f.Check, f.Rule = CheckHeaders, "block-size"
	case errors.Is(err, chain.ErrBadLastCommit):
		f.Check, f.Rule = CheckCertificates, "last-commit-"+certRule(err)
	case errors.Is(err, chain.ErrDuplicate):
		f.Check, f.Rule = CheckTxFormat, "same-transaction-twice"
	default:
		f.Check, f.Rule = CheckTxFormat, "invalid-block"
	}
	return f
}

// certRule names what is wrong with a certificate that does not verify.
func certRule(err error) string {
	switch {
	case errors.Is(err, bft.ErrTooFewSigners):
		return "too-few-signers"
	case errors.Is(err, bft.ErrDuplicateSigner):
		return "duplicate-signer"
	case errors.Is(err, bft.ErrUnsortedSigners):
		return "unsorted-signers"
	case errors.Is(err, bft.ErrUnknownValidator):
		return "unknown-station"
	case errors.Is(err, bft.ErrBadSignature):
		return "bad-signature"
	case errors.Is(err, bft.ErrNilBlock):
		return "nil-block"
	case errors.Is(err, bft.ErrMalformed), errors.Is(err, bft.ErrTooLarge), errors.Is(err, bft.ErrInvalidField):
		return "not-canonical"
	}
	return "wrong-block"
}

// txRule maps the rule a transaction of this kind broke (a chain error) to
// the check it belongs to and the rule's name in the report: the chain's
// own rule name (chain.RuleName), made more precise for ballots (which part
// of the ballot failed).
func txRule(kind chain.TxKind, err error) (check, rule string) {
	rule = chain.RuleName(err)
	switch rule {
	case "ciphertext-reused":
		return CheckCiphertexts, rule
	case "already-voted", "tracking-clash":
		return CheckOneBallot, rule
	case "duplicate":
		switch kind {
		case chain.TxBallot:
			return CheckOneBallot, rule
		case chain.TxSpoiled:
			return CheckChallenged, rule
		case chain.TxDKGDeal, chain.TxDKGResponse, chain.TxDKGJustification, chain.TxKeyAnnouncement:
			return CheckKeyGeneration, rule
		case chain.TxApproval:
			return CheckApprovals, rule
		case chain.TxTallyShares:
			return CheckShares, rule
		case chain.TxEvidence:
			return CheckEquivocation, rule
		}
		return CheckTxFormat, rule
	case "ineligible", "unknown-station":
		return CheckEligibility, rule
	case "wrong-phase", "dkg-closed":
		return CheckPhases, rule
	case "ballot-challenged", "ballot-cast":
		return CheckChallenged, rule
	case "bad-ballot":
		return ballotRule(kind, err)
	case "not-official", "not-station", "bad-signature", "unsigned", "needless-signer":
		return CheckTxSignatures, rule
	case "bad-approval":
		return CheckApprovals, rule
	case "no-deal", "no-complaint", "bad-dkg-message":
		return CheckKeyGeneration, rule
	case "bad-shares":
		return CheckShares, rule
	case "bad-evidence":
		return CheckEquivocation, rule
	case "":
		return CheckTxFormat, "invalid"
	}
	// wrong-election, key-not-ready, unknown-kind, bad-payload, not-canonical
	return CheckTxFormat, rule
}

// ballotRule says which part of a ballot (cast or challenged) failed.
func ballotRule(kind chain.TxKind, err error) (check, rule string) {
	switch {
	case errors.Is(err, ballot.ErrSelectionProof):
		return CheckSelection, "selection-proof"
	case errors.Is(err, ballot.ErrContestProof):
		return CheckContest, "contest-proof"
	case errors.Is(err, ballot.ErrOverLimit):
		return CheckContest, "over-limit"
	case errors.Is(err, ballot.ErrBadSignature):
		return CheckTxSignatures, "ballot-signature"
	case errors.Is(err, ballot.ErrBadCredential):
		return CheckTxSignatures, "ballot-credential"
	case errors.Is(err, ballot.ErrRevealShape), errors.Is(err, ballot.ErrRevealMark),
		errors.Is(err, ballot.ErrRevealNonce), errors.Is(err, ballot.ErrRevealMismatch):
		return CheckChallenged, "opening"
	case errors.Is(err, ballot.ErrBadCiphertext):
		return CheckTxFormat, "bad-ciphertext"
	case errors.Is(err, ballot.ErrBallotShape):
		return CheckTxFormat, "ballot-shape"
	}
	return CheckTxFormat, "bad-ballot"
}
