package bft

import (
	"fmt"
	"time"
)

// Input is anything Core.Step accepts: a Message from a peer (or our own, replayed from
// the write-ahead log), a Timeout the caller scheduled, a ProposalValue answering
// Ready.NeedProposal, a WorkReady hint or a PeerHeight hint. Every Input is logged to
// the WAL before Step (EncodeInput/DecodeInput give its bytes).
type Input interface {
	isInput()
}

// Kind tags an encoded Input. Kinds 1-3 are Messages (they travel between nodes);
// kinds 16 and up are local inputs (they only appear in a node's own WAL).
type Kind uint8

// Input kinds.
const (
	KindProposal      Kind = 1
	KindVote          Kind = 2
	KindDecision      Kind = 3
	KindTimeout       Kind = 16
	KindProposalValue Kind = 17
	KindWorkReady     Kind = 18
	KindPeerHeight    Kind = 19
)

func (k Kind) String() string {
	switch k {
	case KindProposal:
		return "proposal"
	case KindVote:
		return "vote"
	case KindDecision:
		return "decision"
	case KindTimeout:
		return "timeout"
	case KindProposalValue:
		return "proposal-value"
	case KindWorkReady:
		return "work-ready"
	case KindPeerHeight:
		return "peer-height"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Message is what validators send each other: exactly one field is set. A Decision
// message serves a decided block with its certificate to a peer that is behind.
type Message struct {
	Proposal *Proposal
	Vote     *Vote
	Decision *Decision
}

func (Message) isInput() {}

// Kind returns the kind of the set field, or 0 if none or more than one is set.
func (m Message) Kind() Kind {
	var k Kind
	set := 0
	if m.Proposal != nil {
		k, set = KindProposal, set+1
	}
	if m.Vote != nil {
		k, set = KindVote, set+1
	}
	if m.Decision != nil {
		k, set = KindDecision, set+1
	}
	if set != 1 {
		return 0
	}
	return k
}

// Height returns the height the message is about (0 for an empty Message).
func (m Message) Height() uint64 {
	switch {
	case m.Proposal != nil:
		return m.Proposal.Height
	case m.Vote != nil:
		return m.Vote.Height
	case m.Decision != nil:
		return m.Decision.Height
	}
	return 0
}

func (m Message) String() string {
	switch m.Kind() {
	case KindProposal:
		return m.Proposal.String()
	case KindVote:
		return m.Vote.String()
	case KindDecision:
		return fmt.Sprintf("decision h%d %s", m.Decision.Height, m.Decision.Certificate.BlockHash)
	}
	return "empty message"
}

// Timeout is a timer the core asked for (Ready.Timers) and, when it fires, the Input
// the caller feeds back. Duration is how long after scheduling it fires; the core
// ignores it on input.
type Timeout struct {
	_        struct{} `cbor:",toarray"`
	Height   uint64
	Round    uint32
	Step     RoundStep
	Duration time.Duration
}

func (Timeout) isInput() {}

// ProposalValue answers Ready.NeedProposal: the block the caller built for (Height,
// Round). It arrives as a logged input so that WAL replay proposes the same block.
type ProposalValue struct {
	_      struct{} `cbor:",toarray"`
	Height uint64
	Round  uint32
	Block  []byte
}

func (ProposalValue) isInput() {}

// WorkReady tells a core configured with Config.WaitForWork that there is work
// (transactions waiting, or the heartbeat is due) at Height: round 0 may start its
// propose timer.
type WorkReady struct {
	_      struct{} `cbor:",toarray"`
	Height uint64
}

func (WorkReady) isInput() {}

// PeerHeight tells the core that a validator reported being at Height (for example in
// a status exchange). Like the height of a signed message, it only feeds the block-sync
// trigger: the core believes the network is at height H once f+1 validators claim H.
type PeerHeight struct {
	_         struct{} `cbor:",toarray"`
	Validator uint32
	Height    uint64
}

func (PeerHeight) isInput() {}

// ProposalRequest asks the caller for a block to propose at (Height, Round): answer
// with a ProposalValue input.
type ProposalRequest struct {
	Height uint64
	Round  uint32
}

// SyncRequest tells the caller this node is behind: the network has decided heights
// From..To-1 that this node has not. Fetch those Decisions from peers and feed them to
// Step in height order (each one yields a Commit).
type SyncRequest struct {
	From uint64
	To   uint64
}

// DropReason says why the core dropped an input. Every drop is counted (Core.Drops).
type DropReason uint8

// Drop reasons.
const (
	DropMalformed           DropReason = iota + 1 // fields out of range (bad vote type, POL round, signature size, empty message)
	DropUnknownValidator                          // signer is not in the validator set
	DropBadSignature                              // signature does not verify
	DropWrongProposer                             // proposal signed by a validator who is not the round's proposer
	DropOversized                                 // block larger than Config.MaxBlockBytes
	DropPastHeight                                // message for a height we already decided: the sender may need Decision(Height)
	DropFarFuture                                 // message for a height beyond Height()+1 (only noted for block sync)
	DropFutureBufferFull                          // the sender's share of the next-height buffer is full
	DropFutureRoundLimit                          // the sender already occupies its quota of future rounds
	DropDuplicate                                 // we already have this vote or proposal
	DropEquivocation                              // an equivocator's conflicting vote beyond the few kept per round (Evidence is emitted once)
	DropConflictingProposal                       // a second, different proposal for a round
	DropInvalidBlock                              // a decided block (Decision, or a quorum of precommits) that Config.Validate rejects
	DropBadCertificate                            // a Decision whose certificate does not verify
	DropStaleInput                                // a ProposalValue, WorkReady or Decision for a height or round already past
	DropSignerRefused                             // our Signer refused to sign: nothing was sent
	DropOwnConflict                               // we would sign a vote or proposal conflicting with one we already signed
	numDropReasons
)

var dropNames = [...]string{
	DropMalformed:           "malformed",
	DropUnknownValidator:    "unknown-validator",
	DropBadSignature:        "bad-signature",
	DropWrongProposer:       "wrong-proposer",
	DropOversized:           "oversized",
	DropPastHeight:          "past-height",
	DropFarFuture:           "far-future",
	DropFutureBufferFull:    "future-buffer-full",
	DropFutureRoundLimit:    "future-round-limit",
	DropDuplicate:           "duplicate",
	DropEquivocation:        "equivocation",
	DropConflictingProposal: "conflicting-proposal",
	DropInvalidBlock:        "invalid-block",
	DropBadCertificate:      "bad-certificate",
	DropStaleInput:          "stale-input",
	DropSignerRefused:       "signer-refused",
	DropOwnConflict:         "own-conflict",
}

func (r DropReason) String() string {
	if r > 0 && r < numDropReasons {
		return dropNames[r]
	}
	return fmt.Sprintf("DropReason(%d)", uint8(r))
}

// Drop records one dropped input (or, for DropSignerRefused and DropOwnConflict, one
// message we did not sign).
type Drop struct {
	Reason    DropReason
	Kind      Kind
	Validator int64 // the validator the message claims to be from, -1 if none
	Height    uint64
	Round     uint32
	Err       error // detail, when there is one
}

func (d Drop) String() string {
	s := fmt.Sprintf("%s %s h%d r%d v%d", d.Reason, d.Kind, d.Height, d.Round, d.Validator)
	if d.Err != nil {
		s += ": " + d.Err.Error()
	}
	return s
}

// Ready is what one Step (or Start, Advance, SyncTo) asks the caller to do. See the
// package documentation for the order.
type Ready struct {
	// Messages to broadcast to every validator. They are ours and freshly signed (or
	// relayed: the POL prevotes that justify a re-proposal). Log them to the WAL with
	// the input and flush before sending.
	Messages []Message
	// Buffered: messages for this height that arrived while the core was still at
	// the previous one, held back and processed now (by Advance). Log them as inputs,
	// before Messages: a WAL kept by height filed them under the previous height, and
	// a replay of this height needs them (the proposal we locked on may be among them).
	Buffered []Message
	// Timers to schedule: feed each back as an Input after its Duration.
	Timers []Timeout
	// NeedProposal: we are the proposer and have no valid value: build a block and
	// feed a ProposalValue.
	NeedProposal *ProposalRequest
	// Commit: a block was decided. Apply and persist it, then call Advance. The core
	// has already moved to Commit.Height+1.
	Commit *Decision
	// Evidence of equivocation seen in this step (hand to the chain as a transaction).
	Evidence []Evidence
	// Sync: we are behind; fetch Decisions From..To-1.
	Sync *SyncRequest
	// Dropped inputs with their reasons.
	Dropped []Drop
}

// IsEmpty reports whether the Ready asks for nothing (drops aside).
func (r *Ready) IsEmpty() bool {
	return len(r.Messages) == 0 && len(r.Buffered) == 0 && len(r.Timers) == 0 && r.NeedProposal == nil &&
		r.Commit == nil && len(r.Evidence) == 0 && r.Sync == nil
}
