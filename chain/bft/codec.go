package bft

import (
	"bytes"
	"crypto/ed25519"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// Encoding. Everything hashed, signed, sent or logged is deterministic CBOR
// (RFC 8949 core deterministic encoding) with structs as arrays in field order. Decoding
// is strict: no unknown fields, indefinite lengths, tags or duplicate map keys, no
// trailing bytes, bounded sizes, and the input must be exactly the canonical encoding of
// what it decodes to (decode, re-encode, compare). docs/consensus.md lists the layouts.

// Domain tags keep a signature over one kind of message from being valid for another.
const (
	voteDomain     = "urna/bft/vote/v1"
	proposalDomain = "urna/bft/proposal/v1"
)

var (
	encMode cbor.EncMode
	decMode cbor.DecMode
)

func init() {
	eo := cbor.CoreDetEncOptions()
	eo.NilContainers = cbor.NilContainerAsEmpty // one encoding for an empty byte string or list
	var err error
	if encMode, err = eo.EncMode(); err != nil {
		panic(err)
	}
	decMode, err = cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		IndefLength:       cbor.IndefLengthForbidden,
		TagsMd:            cbor.TagsForbidden,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
		MaxNestedLevels:   16,
		MaxArrayElements:  MaxValidators + 8,
		MaxMapPairs:       16,
	}.DecMode()
	if err != nil {
		panic(err)
	}
}

func mustEncode(v any) []byte {
	b, err := encMode.Marshal(v)
	if err != nil {
		// Only fixed-shape structs of integers and byte strings are encoded here.
		panic(fmt.Sprintf("bft: encoding %T: %v", v, err))
	}
	return b
}

type voteSignBytes struct {
	_         struct{} `cbor:",toarray"`
	Domain    string
	ChainID   Hash
	Type      VoteType
	Height    uint64
	Round     uint32
	BlockHash Hash
}

// SignBytes is what a validator signs for this vote: the CBOR array
// ["urna/bft/vote/v1", chainID, type, height, round, blockHash]. The validator index and
// the signature are not part of it.
func (v *Vote) SignBytes(chainID Hash) []byte {
	return mustEncode(voteSignBytes{Domain: voteDomain, ChainID: chainID, Type: v.Type, Height: v.Height, Round: v.Round, BlockHash: v.BlockHash})
}

type proposalSignBytes struct {
	_         struct{} `cbor:",toarray"`
	Domain    string
	ChainID   Hash
	Height    uint64
	Round     uint32
	POLRound  int32
	BlockHash Hash
}

// SignBytes is what the proposer signs: the CBOR array ["urna/bft/proposal/v1",
// chainID, height, round, polRound, HashValue(block)].
func (p *Proposal) SignBytes(chainID Hash) []byte {
	return mustEncode(proposalSignBytes{Domain: proposalDomain, ChainID: chainID, Height: p.Height, Round: p.Round, POLRound: p.POLRound, BlockHash: p.BlockHash()})
}

// envelope is the encoding of an Input: [kind, body].
type envelope struct {
	_    struct{} `cbor:",toarray"`
	Kind Kind
	Body cbor.RawMessage
}

// EncodeMessage returns the canonical bytes of m. It fails if m does not have exactly
// one field set or a field is out of range.
func EncodeMessage(m Message) ([]byte, error) {
	if err := checkMessage(m); err != nil {
		return nil, err
	}
	return EncodeInput(m)
}

// DecodeMessage strictly decodes a Message received from the network. It checks
// encoding and field ranges, not signatures (Core.Step and the Verify methods do that).
func DecodeMessage(b []byte) (Message, error) {
	in, err := decodeInput(b, true)
	if err != nil {
		return Message{}, err
	}
	return in.(Message), nil
}

// EncodeInput returns the canonical bytes of an Input, for the write-ahead log.
func EncodeInput(in Input) ([]byte, error) {
	var kind Kind
	var body any
	switch x := in.(type) {
	case Message:
		if err := checkMessage(x); err != nil {
			return nil, err
		}
		kind = x.Kind()
		switch kind {
		case KindProposal:
			body = x.Proposal
		case KindVote:
			body = x.Vote
		case KindDecision:
			body = x.Decision
		}
	case Timeout:
		kind, body = KindTimeout, x
	case ProposalValue:
		kind, body = KindProposalValue, x
	case WorkReady:
		kind, body = KindWorkReady, x
	case PeerHeight:
		kind, body = KindPeerHeight, x
	default:
		return nil, fmt.Errorf("%w: input type %T", ErrInvalidField, in)
	}
	if err := checkInput(in); err != nil {
		return nil, err
	}
	raw, err := encMode.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalidField, kind, err)
	}
	return encMode.Marshal(envelope{Kind: kind, Body: raw})
}

// DecodeInput strictly decodes one write-ahead-log record written by EncodeInput.
func DecodeInput(b []byte) (Input, error) { return decodeInput(b, false) }

func decodeInput(b []byte, messagesOnly bool) (Input, error) {
	if len(b) > MaxMessageBytes {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(b), MaxMessageBytes)
	}
	var env envelope
	if err := decMode.Unmarshal(b, &env); err != nil {
		return nil, fmt.Errorf("%w: envelope: %v", ErrMalformed, err)
	}
	var in Input
	var err error
	switch env.Kind {
	case KindProposal:
		var p Proposal
		err = decMode.Unmarshal(env.Body, &p)
		in = Message{Proposal: &p}
	case KindVote:
		var v Vote
		err = decMode.Unmarshal(env.Body, &v)
		in = Message{Vote: &v}
	case KindDecision:
		var d Decision
		err = decMode.Unmarshal(env.Body, &d)
		in = Message{Decision: &d}
	case KindTimeout, KindProposalValue, KindWorkReady, KindPeerHeight:
		if messagesOnly {
			return nil, fmt.Errorf("%w: kind %s is not a network message", ErrMalformed, env.Kind)
		}
		switch env.Kind {
		case KindTimeout:
			var t Timeout
			err = decMode.Unmarshal(env.Body, &t)
			in = t
		case KindProposalValue:
			var p ProposalValue
			err = decMode.Unmarshal(env.Body, &p)
			in = p
		case KindWorkReady:
			var w WorkReady
			err = decMode.Unmarshal(env.Body, &w)
			in = w
		default:
			var p PeerHeight
			err = decMode.Unmarshal(env.Body, &p)
			in = p
		}
	default:
		return nil, fmt.Errorf("%w: unknown kind %d", ErrMalformed, uint8(env.Kind))
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, env.Kind, err)
	}
	if err := checkInput(in); err != nil {
		return nil, err
	}
	again, err := EncodeInput(in)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(again, b) {
		return nil, fmt.Errorf("%w: %s: not the canonical encoding", ErrMalformed, env.Kind)
	}
	return in, nil
}

// EncodeCertificate returns the canonical bytes of c (for a store or a block that
// embeds it).
func EncodeCertificate(c *Certificate) []byte { return mustEncode(c) }

// DecodeCertificate strictly decodes a Certificate. It does not verify signatures
// (Certificate.Verify does).
func DecodeCertificate(b []byte) (Certificate, error) {
	var c Certificate
	if len(b) > MaxCertificateBytes {
		return c, fmt.Errorf("%w: certificate of %d bytes, limit %d", ErrTooLarge, len(b), MaxCertificateBytes)
	}
	if err := decMode.Unmarshal(b, &c); err != nil {
		return Certificate{}, fmt.Errorf("%w: certificate: %v", ErrMalformed, err)
	}
	if err := checkCertificate(&c); err != nil {
		return Certificate{}, err
	}
	if !bytes.Equal(mustEncode(&c), b) {
		return Certificate{}, fmt.Errorf("%w: certificate: not the canonical encoding", ErrMalformed)
	}
	return c, nil
}

// EncodeEvidence returns the canonical bytes of e (the body of an evidence transaction).
func EncodeEvidence(e *Evidence) []byte { return mustEncode(e) }

// DecodeEvidence strictly decodes Evidence. It does not verify it (Evidence.Verify does).
func DecodeEvidence(b []byte) (Evidence, error) {
	var e Evidence
	if len(b) > 1024 {
		return e, fmt.Errorf("%w: evidence of %d bytes", ErrTooLarge, len(b))
	}
	if err := decMode.Unmarshal(b, &e); err != nil {
		return Evidence{}, fmt.Errorf("%w: evidence: %v", ErrMalformed, err)
	}
	if err := checkVote(&e.A); err != nil {
		return Evidence{}, fmt.Errorf("evidence vote A: %w", err)
	}
	if err := checkVote(&e.B); err != nil {
		return Evidence{}, fmt.Errorf("evidence vote B: %w", err)
	}
	if !bytes.Equal(mustEncode(&e), b) {
		return Evidence{}, fmt.Errorf("%w: evidence: not the canonical encoding", ErrMalformed)
	}
	return e, nil
}

// Field range checks that need no validator set. They run on everything decoded and
// on everything Step receives.

func checkMessage(m Message) error {
	if m.Kind() == 0 {
		return fmt.Errorf("%w: message must have exactly one of proposal, vote, decision", ErrInvalidField)
	}
	return nil
}

func checkInput(in Input) error {
	switch x := in.(type) {
	case Message:
		if err := checkMessage(x); err != nil {
			return err
		}
		switch {
		case x.Proposal != nil:
			return checkProposal(x.Proposal)
		case x.Vote != nil:
			return checkVote(x.Vote)
		default:
			return checkDecision(x.Decision)
		}
	case Timeout:
		if x.Round > MaxRound {
			return fmt.Errorf("%w: timeout round %d above %d", ErrInvalidField, x.Round, MaxRound)
		}
		if x.Step < StepPropose || x.Step > StepPrecommit {
			return fmt.Errorf("%w: timeout step %d", ErrInvalidField, x.Step)
		}
		if x.Duration < 0 {
			return fmt.Errorf("%w: timeout duration %v", ErrInvalidField, x.Duration)
		}
	case ProposalValue:
		if len(x.Block) > MaxBlockBytes {
			return fmt.Errorf("%w: proposal value h%d r%d: block of %d bytes, limit %d", ErrTooLarge, x.Height, x.Round, len(x.Block), MaxBlockBytes)
		}
	case WorkReady, PeerHeight:
	default:
		return fmt.Errorf("%w: input type %T", ErrInvalidField, in)
	}
	return nil
}

func checkVote(v *Vote) error {
	if v.Round > MaxRound {
		return fmt.Errorf("%w: vote h%d by v%d: round %d above %d", ErrInvalidField, v.Height, v.Validator, v.Round, MaxRound)
	}
	if v.Type != Prevote && v.Type != Precommit {
		return fmt.Errorf("%w: vote h%d r%d by v%d: type %d", ErrInvalidField, v.Height, v.Round, v.Validator, v.Type)
	}
	if len(v.Signature) != ed25519.SignatureSize {
		return fmt.Errorf("%w: %s: signature of %d bytes", ErrInvalidField, v, len(v.Signature))
	}
	return nil
}

func checkProposal(p *Proposal) error {
	if p.Round > MaxRound {
		return fmt.Errorf("%w: proposal h%d by v%d: round %d above %d", ErrInvalidField, p.Height, p.Proposer, p.Round, MaxRound)
	}
	if p.POLRound < -1 || int64(p.POLRound) >= int64(p.Round) {
		return fmt.Errorf("%w: proposal h%d r%d by v%d: POL round %d not in [-1, %d)", ErrInvalidField, p.Height, p.Round, p.Proposer, p.POLRound, p.Round)
	}
	if len(p.Block) > MaxBlockBytes {
		return fmt.Errorf("%w: proposal h%d r%d by v%d: block of %d bytes, limit %d", ErrTooLarge, p.Height, p.Round, p.Proposer, len(p.Block), MaxBlockBytes)
	}
	if len(p.Signature) != ed25519.SignatureSize {
		return fmt.Errorf("%w: proposal h%d r%d by v%d: signature of %d bytes", ErrInvalidField, p.Height, p.Round, p.Proposer, len(p.Signature))
	}
	return nil
}

func checkCertificate(c *Certificate) error {
	if c.Round > MaxRound {
		return fmt.Errorf("%w: certificate h%d: round %d above %d", ErrInvalidField, c.Height, c.Round, MaxRound)
	}
	if len(c.Signatures) > MaxValidators {
		return fmt.Errorf("%w: certificate h%d: %d signatures", ErrTooLarge, c.Height, len(c.Signatures))
	}
	for i := range c.Signatures {
		if len(c.Signatures[i].Signature) != ed25519.SignatureSize {
			return fmt.Errorf("%w: certificate h%d: signature %d (validator %d) has %d bytes", ErrInvalidField, c.Height, i, c.Signatures[i].Validator, len(c.Signatures[i].Signature))
		}
	}
	return nil
}

func checkDecision(d *Decision) error {
	if d.Height != d.Certificate.Height {
		return fmt.Errorf("%w: decision h%d carries a certificate for h%d", ErrHeightMismatch, d.Height, d.Certificate.Height)
	}
	if len(d.Block) > MaxBlockBytes {
		return fmt.Errorf("%w: decision h%d: block of %d bytes, limit %d", ErrTooLarge, d.Height, len(d.Block), MaxBlockBytes)
	}
	return checkCertificate(&d.Certificate)
}
