package bft

import "errors"

// Sentinel errors. Every error this package returns wraps exactly one of them (match
// with errors.Is) and names the field, vote or validator at fault in its text.
var (
	// ErrMalformed: the bytes are not a well-formed, canonical encoding of the expected
	// type (unknown kind, wrong field count or type, trailing bytes, non-canonical form).
	ErrMalformed = errors.New("malformed encoding")
	// ErrTooLarge: the input exceeds a size limit (message, block, certificate).
	ErrTooLarge = errors.New("too large")
	// ErrInvalidField: a field holds a value outside its documented range.
	ErrInvalidField = errors.New("invalid field")
	// ErrInvalidValidatorSet: a validator set is empty, has a key of the wrong size or a duplicate.
	ErrInvalidValidatorSet = errors.New("invalid validator set")
	// ErrUnknownValidator: a validator index is outside the validator set.
	ErrUnknownValidator = errors.New("unknown validator")
	// ErrBadSignature: a signature does not verify under the validator's key.
	ErrBadSignature = errors.New("bad signature")
	// ErrWrongProposer: a proposal is signed by a validator who is not the proposer of its height and round.
	ErrWrongProposer = errors.New("wrong proposer")
	// ErrTooFewSigners: a certificate has fewer than Quorum signatures.
	ErrTooFewSigners = errors.New("too few signers")
	// ErrDuplicateSigner: a validator appears twice in a certificate.
	ErrDuplicateSigner = errors.New("duplicate signer")
	// ErrUnsortedSigners: a certificate's signatures are not sorted by validator index.
	ErrUnsortedSigners = errors.New("signers not sorted")
	// ErrNilBlock: a certificate certifies the nil hash (a round without a decision).
	ErrNilBlock = errors.New("certificate for nil block")
	// ErrHashMismatch: a block does not hash to the hash its certificate certifies.
	ErrHashMismatch = errors.New("block hash mismatch")
	// ErrHeightMismatch: two heights that must agree do not.
	ErrHeightMismatch = errors.New("height mismatch")
	// ErrNotEquivocation: evidence whose two votes do not conflict (different validator,
	// height, round or type, or the same block hash).
	ErrNotEquivocation = errors.New("not an equivocation")
	// ErrStaleSync: SyncTo was asked to move the core backwards.
	ErrStaleSync = errors.New("sync target below current height")
	// ErrInvalidConfig: a Config field is missing or out of range.
	ErrInvalidConfig = errors.New("invalid config")
)
