package chain

import (
	"encoding/binary"
	"fmt"

	"github.com/urna-vote/urna/ballot"
)

// The state's key/value layout. Every key starts with a short prefix naming
// its set; the values are canonical CBOR or raw hashes. These keys are part
// of the state hash (every write of a block is hashed into it).
//
//	cred/<credential key, 32 bytes>        → hash of the ballot it cast
//	trk/<tracking key, 18 bytes>            → TrackingEntry (cast or challenged)
//	ct/<alpha of a ciphertext, 32 bytes>    → hash of the ballot (cast or challenged) that holds it
//	ann/<station, u32be>                    → ballot.KeyAnnouncement
//	shr/<station, u32be>                    → ballot.TallyShares
//	evd/<validator u32be><height u64be><round u32be><type u8> → hash of the evidence
//
// The secondary index, which no rule reads and the state hash does not
// cover, maps transactions to where they are:
//
//	tx/<transaction hash, 32 bytes>         → TxLocation
var (
	prefixCredential   = []byte("cred/")
	prefixTracking     = []byte("trk/")
	prefixCiphertext   = []byte("ct/")
	prefixAnnouncement = []byte("ann/")
	prefixShares       = []byte("shr/")
	prefixEvidence     = []byte("evd/")
	prefixTxIndex      = []byte("tx/")
)

func key(prefix []byte, parts ...[]byte) []byte {
	k := append([]byte(nil), prefix...)
	for _, p := range parts {
		k = append(k, p...)
	}
	return k
}

func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// TrackingKey is the state key of a (typed) tracking code: the prefix and
// all 140 bits of the code (ballot.TrackingKey), so a look-up matches a
// ballot only if every bit of its code does.
func TrackingKey(code string) ([]byte, error) {
	k, err := ballot.TrackingKey(code)
	if err != nil {
		return nil, err
	}
	return key(prefixTracking, k[:]), nil
}

// trackingKeyOf is the state key of the ballot with this hash.
func trackingKeyOf(hash [32]byte) []byte {
	k := ballot.TrackingKeyOf(hash)
	return key(prefixTracking, k[:])
}

// TrackingStatus says what happened to a ballot.
type TrackingStatus uint8

// The statuses.
const (
	StatusCast       TrackingStatus = 1
	StatusChallenged TrackingStatus = 2
)

func (s TrackingStatus) String() string {
	switch s {
	case StatusCast:
		return "cast"
	case StatusChallenged:
		return "challenged"
	}
	return fmt.Sprintf("status(%d)", uint8(s))
}

// TrackingEntry is what the chain knows about a tracking code.
type TrackingEntry struct {
	_          struct{} `cbor:",toarray"`
	BallotHash [32]byte
	Height     uint64
	Position   uint32
	Status     TrackingStatus
}

// DecodeTrackingEntry decodes a stored entry.
func DecodeTrackingEntry(b []byte) (*TrackingEntry, error) {
	var e TrackingEntry
	if err := ballot.Unmarshal(b, &e, 256); err != nil {
		return nil, fmt.Errorf("tracking entry: %w", err)
	}
	return &e, nil
}

// TxLocation is where a transaction was committed.
type TxLocation struct {
	_        struct{} `cbor:",toarray"`
	Height   uint64
	Position uint32
}

// TxIndexKey is the secondary-index key of a transaction hash.
func TxIndexKey(hash [32]byte) []byte { return key(prefixTxIndex, hash[:]) }

// DecodeTxLocation decodes an index entry.
func DecodeTxLocation(b []byte) (*TxLocation, error) {
	var l TxLocation
	if err := ballot.Unmarshal(b, &l, 64); err != nil {
		return nil, fmt.Errorf("tx location: %w", err)
	}
	return &l, nil
}
