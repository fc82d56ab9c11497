package chain

import (
	"errors"
	"fmt"
)

// Block-level errors.
var (
	ErrWrongChain      = errors.New("block is for another election")
	ErrBadHeight       = errors.New("block height is not the next height")
	ErrBadPrevHash     = errors.New("block does not extend the chain's head")
	ErrBadStateHash    = errors.New("block's state hash differs from this state")
	ErrBadTime         = errors.New("block time does not increase")
	ErrBadProposer     = errors.New("block proposer is not a station")
	ErrBadLastCommit   = errors.New("block's certificate of the previous block is invalid")
	ErrBlockTooLarge   = errors.New("block has too many transactions or bytes")
	ErrMachineConfig   = errors.New("state machine cannot be built from this genesis")
	ErrUnknownElection = errors.New("election key is not known yet")
	// ErrStateRead wraps a failure to read the state's key/value data: not
	// a verdict on the block or transaction, which must not be called
	// invalid because a disk failed.
	ErrStateRead = errors.New("cannot read the state")
)

// Transaction-level errors: the rule a transaction broke. A *TxError wraps
// one of them (and the underlying ballot or bft error when there is one).
var (
	ErrWrongElection    = errors.New("transaction is for another election")
	ErrUnknownKind      = errors.New("unknown transaction kind")
	ErrBadPayload       = errors.New("transaction payload is malformed")
	ErrBadTxSignature   = errors.New("transaction signature does not verify")
	ErrUnsignedTx       = errors.New("transaction must be signed by its station or official")
	ErrNeedlessSigner   = errors.New("self-authenticating transaction carries an envelope signature")
	ErrNotStation       = errors.New("signer is not the station the transaction names")
	ErrNotOfficial      = errors.New("signer is not an official of this election")
	ErrWrongPhase       = errors.New("transaction is not allowed in this phase")
	ErrDKGClosed        = errors.New("DKG message after the DKG deadline height")
	ErrDuplicate        = errors.New("already on the chain")
	ErrNoDeal           = errors.New("response to a deal that is not on the chain")
	ErrNoComplaint      = errors.New("justification without a complaint on the chain")
	ErrBadDKGMessage    = errors.New("DKG message is malformed")
	ErrBadApproval      = errors.New("approval action is unknown")
	ErrIneligible       = errors.New("ballot credential is not on the voter roll")
	ErrAlreadyVoted     = errors.New("credential has already cast a ballot")
	ErrUnknownStation   = errors.New("ballot names a station that is not in the election")
	ErrBadBallot        = errors.New("ballot does not verify")
	ErrBallotChallenged = errors.New("ballot was challenged (spoiled) and cannot be cast")
	ErrBallotCast       = errors.New("ballot was cast and cannot be challenged")
	ErrTrackingClash    = errors.New("another ballot has the same tracking code")
	ErrCiphertextReused = errors.New("ballot holds a ciphertext that is already on the chain")
	ErrBadShares        = errors.New("decryption shares do not verify")
	ErrBadEvidence      = errors.New("equivocation evidence does not verify")
)

// TxError says which transaction of a block broke which rule.
type TxError struct {
	Index int      // position in the block
	Hash  [32]byte // transaction hash
	Kind  TxKind
	Err   error
}

func (e *TxError) Error() string {
	return fmt.Sprintf("tx %d (%s %x): %v", e.Index, e.Kind, e.Hash[:6], e.Err)
}

func (e *TxError) Unwrap() error { return e.Err }
