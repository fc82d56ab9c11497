package chain

import (
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/urna-vote/urna/ballot"
)

// TxKind says what a transaction carries.
type TxKind uint8

// The transaction kinds. Their numbers are part of the record format.
const (
	TxDKGDeal          TxKind = 1 // ballot.DealBundle, signed by the dealer station
	TxDKGResponse      TxKind = 2 // ballot.ResponseBundle, signed by the responding station
	TxDKGJustification TxKind = 3 // ballot.JustificationBundle, signed by the dealer station
	TxKeyAnnouncement  TxKind = 4 // ballot.KeyAnnouncement, signed by the announcing station
	TxApproval         TxKind = 5 // Approval, signed by an official
	TxBallot           TxKind = 6 // ballot.Ballot, signed inside by its credential
	TxSpoiled          TxKind = 7 // ballot.SpoiledBallot (a challenged ballot), signed inside by its credential
	TxTallyShares      TxKind = 8 // ballot.TallyShares, signed by the station
	TxEvidence         TxKind = 9 // bft.Evidence of equivocation: two signed votes, needs no other signature
)

var txKindNames = map[TxKind]string{
	TxDKGDeal: "dkg-deal", TxDKGResponse: "dkg-response", TxDKGJustification: "dkg-justification",
	TxKeyAnnouncement: "key-announcement", TxApproval: "approval", TxBallot: "ballot",
	TxSpoiled: "spoiled-ballot", TxTallyShares: "tally-shares", TxEvidence: "evidence",
}

func (k TxKind) String() string {
	if s, ok := txKindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("tx-kind(%d)", uint8(k))
}

// signedBy says who must sign a kind's envelope.
func (k TxKind) signedBy() signerRole {
	switch k {
	case TxDKGDeal, TxDKGResponse, TxDKGJustification, TxKeyAnnouncement, TxTallyShares:
		return roleStation
	case TxApproval:
		return roleOfficial
	default:
		return roleNone // the payload authenticates itself
	}
}

type signerRole int

const (
	roleNone signerRole = iota
	roleStation
	roleOfficial
)

// Tx is the envelope of every transaction: its kind, the election it belongs
// to, the canonical bytes of its payload, and, for kinds made by a station or
// an official, the signer's public key and an Ed25519 signature over
// SigningBytes. Ballots, spoiled ballots and evidence carry their own
// signatures inside and leave Signer and Signature empty.
type Tx struct {
	_         struct{} `cbor:",toarray"`
	Kind      TxKind
	Election  [32]byte
	Payload   []byte
	Signer    []byte
	Signature []byte
}

// Approval is an official's signed approval to open or close the polls.
type Approval struct {
	_      struct{} `cbor:",toarray"`
	Action Action
}

// Action is what an official approves.
type Action uint8

// The actions.
const (
	ActionOpen  Action = 1
	ActionClose Action = 2
)

func (a Action) String() string {
	switch a {
	case ActionOpen:
		return "open"
	case ActionClose:
		return "close"
	}
	return fmt.Sprintf("action(%d)", uint8(a))
}

// MaxTxSize bounds one encoded transaction.
const MaxTxSize = 2 << 20

const txDomain = "urna/v1/tx"

type txSigning struct {
	_        struct{} `cbor:",toarray"`
	Domain   string
	Kind     TxKind
	Election [32]byte
	Payload  []byte
	Signer   []byte
}

// SigningBytes is what a station or an official signs.
func (tx *Tx) SigningBytes() []byte {
	return ballot.Marshal(&txSigning{Domain: txDomain, Kind: tx.Kind, Election: tx.Election, Payload: tx.Payload, Signer: tx.Signer})
}

// Encode returns the canonical bytes.
func (tx *Tx) Encode() []byte { return ballot.Marshal(tx) }

// Hash is SHA-256 of the canonical bytes: the id a client uses to follow its
// transaction.
func (tx *Tx) Hash() [32]byte { return sha256.Sum256(tx.Encode()) }

// ErrTxEncoding reports bytes that are not a canonical transaction.
var ErrTxEncoding = errors.New("not a canonical transaction")

// DecodeTx decodes a transaction envelope strictly. The payload is decoded
// by Validate.
func DecodeTx(data []byte) (*Tx, error) {
	var tx Tx
	if err := ballot.Unmarshal(data, &tx, MaxTxSize); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTxEncoding, err)
	}
	return &tx, nil
}

// NewSignedTx makes a transaction of a station or an official.
func NewSignedTx(kind TxKind, election [32]byte, payload []byte, key ed25519.PrivateKey) *Tx {
	tx := &Tx{Kind: kind, Election: election, Payload: payload, Signer: key.Public().(ed25519.PublicKey)}
	tx.Signature = ed25519.Sign(key, tx.SigningBytes())
	return tx
}

// NewBallotTx wraps a ballot.
func NewBallotTx(b *ballot.Ballot) *Tx {
	return &Tx{Kind: TxBallot, Election: b.Election, Payload: b.Encode()}
}

// NewSpoiledTx wraps a challenged ballot.
func NewSpoiledTx(sp *ballot.SpoiledBallot) *Tx {
	return &Tx{Kind: TxSpoiled, Election: sp.Ballot.Election, Payload: sp.Encode()}
}

// NewApprovalTx makes an official's approval.
func NewApprovalTx(election [32]byte, action Action, key ed25519.PrivateKey) *Tx {
	return NewSignedTx(TxApproval, election, ballot.Marshal(&Approval{Action: action}), key)
}

// DecodeApproval decodes an approval payload strictly.
func DecodeApproval(data []byte) (*Approval, error) {
	var a Approval
	if err := ballot.Unmarshal(data, &a, 64); err != nil {
		return nil, fmt.Errorf("approval: %w", err)
	}
	return &a, nil
}
