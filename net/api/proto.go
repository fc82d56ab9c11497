// Package api is the client protocol of a station node: what voter
// terminals, officials' tools, observers and operators use to reach a
// station. It runs on the node's QUIC endpoint with its own ALPN; the
// client pins the station's Ed25519 key, and presents no certificate (what
// a client submits authenticates itself).
//
// Every request is one bidirectional QUIC stream: the client writes one
// request frame (package frame: u32 length, payload) and closes its side;
// the station answers with one or more reply frames and closes its side. A
// frame's payload is a type byte followed by the canonical CBOR encoding of
// that type's body (an array). docs/network.md has the byte-level
// description.
//
// The package moves typed messages and knows no election rules: blocks,
// certificates and transactions are opaque bytes, and a station's refusal
// of a transaction carries the rule's name as a string. What a client can
// check (certificates, the election key, results) it checks with package
// chain/verify, never by trusting a station.
package api

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// ALPN is the client protocol's TLS application protocol.
const ALPN = "urna-client/1"

// Request types.
const (
	opStatus   byte = 0x01
	opSubmit   byte = 0x02
	opWait     byte = 0x03
	opBlocks   byte = 0x04
	opTracking byte = 0x05
	opEvents   byte = 0x06
	opRoll     byte = 0x07
)

// Reply types.
const (
	replyError     byte = 0x80
	replyStatus    byte = 0x81
	replyAccepted  byte = 0x82
	replyCommitted byte = 0x83
	replyBlock     byte = 0x84
	replyEnd       byte = 0x85
	replyTracking  byte = 0x86
	replyEvent     byte = 0x87
	replyChunk     byte = 0x88
)

var opNames = map[byte]string{
	opStatus: "status", opSubmit: "submit", opWait: "wait", opBlocks: "blocks",
	opTracking: "tracking", opEvents: "events", opRoll: "roll",
}

// Error codes of an error reply.
const (
	CodeMalformed   uint8 = 1 // the request breaks the protocol
	CodeRejected    uint8 = 2 // the station refused the transaction for a rule
	CodeBusy        uint8 = 3 // over the connection's rate limit: retry later
	CodeUnavailable uint8 = 4 // the station cannot answer now (stopping, disk)
	CodeInvalid     uint8 = 5 // a well-formed request with an invalid argument
)

// Request bodies.
type (
	emptyBody struct {
		_ struct{} `cbor:",toarray"`
	}
	submitBody struct {
		_    struct{} `cbor:",toarray"`
		Tx   []byte
		Wait bool
	}
	waitBody struct {
		_    struct{} `cbor:",toarray"`
		Hash [32]byte
	}
	blocksBody struct {
		_        struct{} `cbor:",toarray"`
		From, To uint64
	}
	trackingBody struct {
		_    struct{} `cbor:",toarray"`
		Code string
	}
)

// Reply bodies.
type (
	errorBody struct {
		_       struct{} `cbor:",toarray"`
		Code    uint8
		Rule    string
		Message string
	}
	committedBody struct {
		_      struct{} `cbor:",toarray"`
		Height uint64
	}
	endBody struct {
		_    struct{} `cbor:",toarray"`
		Head uint64
	}
	chunkBody struct {
		_    struct{} `cbor:",toarray"`
		Data []byte
	}
)

// Status is a station's summary of the election. It is the station's word:
// a client shows it, and checks against the certified chain whatever it
// relies on.
type Status struct {
	_        struct{} `cbor:",toarray"`
	Election [32]byte // the election fingerprint (SHA-256 of genesis.json)
	Station  uint32   // index of the answering station in the genesis
	Phase    uint8    // chain.Phase
	Height   uint64   // last committed block
	Round    uint32   // consensus round of the next height
	// LastBlock is the time of the last committed block, Unix ms (0 before
	// the first).
	LastBlock int64
	Peers     []uint32 // stations connected now
	Mempool   uint32   // transactions waiting for a block
	Counted   uint64   // ballots counted
	Spoiled   uint64   // ballots challenged
	Turnout   []uint64 // ballots counted per station
	KeyReady  bool     // the station holds a key share matching the election key
	// Officials (indices in the genesis) whose approvals to open and to
	// close the polls are on the chain.
	OpenApprovals, CloseApprovals []uint32
	// Result per contest, per candidate, once the election is tallied.
	Result [][]uint64
}

// Receipt is a station's answer to a submitted transaction.
type Receipt struct {
	_         struct{} `cbor:",toarray"`
	Hash      [32]byte // SHA-256 of the transaction bytes
	Committed bool     // already in a block
	Height    uint64   // that block, when Committed
}

// Block is one committed block with its commit certificate: exactly the
// pair an election record holds for a height.
type Block struct {
	_           struct{} `cbor:",toarray"`
	Height      uint64
	Block       []byte // canonical block bytes
	Certificate []byte // canonical certificate bytes
}

// Tracking is what the chain holds for a tracking code.
type Tracking struct {
	_          struct{} `cbor:",toarray"`
	Status     uint8    // 0: not on the chain; 1: cast; 2: challenged (chain.TrackingStatus)
	Height     uint64   // the block holding the ballot
	Position   uint32   // its position in the block
	BallotHash [32]byte // hash of the ballot
}

// Event is one committed block.
type Event struct {
	_       struct{} `cbor:",toarray"`
	Height  uint64
	Phase   uint8 // chain.Phase after the block
	Txs     uint32
	Counted uint64 // ballots counted after the block
}

// ErrEncoding reports a payload that is not the canonical encoding of the
// expected message.
var ErrEncoding = errors.New("not a canonical client-protocol message")

var (
	encMode cbor.EncMode
	decMode cbor.DecMode
)

func init() {
	eo := cbor.CoreDetEncOptions()
	eo.NilContainers = cbor.NilContainerAsEmpty
	var err error
	if encMode, err = eo.EncMode(); err != nil {
		panic(err)
	}
	decMode, err = cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		IndefLength:       cbor.IndefLengthForbidden,
		TagsMd:            cbor.TagsForbidden,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
		MaxNestedLevels:   8,
		MaxArrayElements:  1 << 16,
		MaxMapPairs:       16,
		UTF8:              cbor.UTF8RejectInvalid,
	}.DecMode()
	if err != nil {
		panic(err)
	}
}

// encode returns a message payload: its type byte and canonical body.
func encode(typ byte, body any) []byte {
	b, err := encMode.Marshal(body)
	if err != nil {
		panic(fmt.Sprintf("api: encoding %T: %v", body, err))
	}
	return append([]byte{typ}, b...)
}

// decode decodes a body strictly: it must be the canonical encoding of the
// value it decodes to, with nothing after it.
func decode(body []byte, v any) error {
	if err := decMode.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%w: %w", ErrEncoding, err)
	}
	back, err := encMode.Marshal(v)
	if err != nil || !bytes.Equal(back, body) {
		return fmt.Errorf("%w: bytes differ from the canonical re-encoding", ErrEncoding)
	}
	return nil
}

// request is a decoded request.
type request struct {
	op       byte
	submit   submitBody
	wait     waitBody
	blocks   blocksBody
	tracking trackingBody
}

// decodeRequest decodes a request frame's payload.
func decodeRequest(p []byte) (*request, error) {
	if len(p) == 0 {
		return nil, fmt.Errorf("%w: empty request", ErrEncoding)
	}
	r := &request{op: p[0]}
	var body any
	switch r.op {
	case opStatus, opEvents, opRoll:
		body = &emptyBody{}
	case opSubmit:
		body = &r.submit
	case opWait:
		body = &r.wait
	case opBlocks:
		body = &r.blocks
	case opTracking:
		body = &r.tracking
	default:
		return nil, fmt.Errorf("%w: unknown request type %#x", ErrEncoding, r.op)
	}
	if err := decode(p[1:], body); err != nil {
		return nil, fmt.Errorf("%s request: %w", opNames[r.op], err)
	}
	return r, nil
}

// reply is a decoded reply.
type reply struct {
	typ       byte
	err       errorBody
	status    Status
	receipt   Receipt
	committed committedBody
	block     Block
	end       endBody
	tracking  Tracking
	event     Event
	chunk     chunkBody
}

// decodeReply decodes a reply frame's payload.
func decodeReply(p []byte) (*reply, error) {
	if len(p) == 0 {
		return nil, fmt.Errorf("%w: empty reply", ErrEncoding)
	}
	r := &reply{typ: p[0]}
	var body any
	switch r.typ {
	case replyError:
		body = &r.err
	case replyStatus:
		body = &r.status
	case replyAccepted:
		body = &r.receipt
	case replyCommitted:
		body = &r.committed
	case replyBlock:
		body = &r.block
	case replyEnd:
		body = &r.end
	case replyTracking:
		body = &r.tracking
	case replyEvent:
		body = &r.event
	case replyChunk:
		body = &r.chunk
	default:
		return nil, fmt.Errorf("%w: unknown reply type %#x", ErrEncoding, r.typ)
	}
	if err := decode(p[1:], body); err != nil {
		return nil, fmt.Errorf("reply %#x: %w", r.typ, err)
	}
	return r, nil
}
