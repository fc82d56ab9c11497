package signer

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Layout of the state file (see the package comment).
const (
	stateVersion = 1
	stateSize    = 8 + 4 + ed25519.PublicKeySize + 8 + 4 + 1 + sha256.Size + ed25519.SignatureSize + 4 // 157

	offVersion = 8
	offPub     = 12
	offHeight  = offPub + ed25519.PublicKeySize // 44
	offRound   = offHeight + 8                  // 52
	offStep    = offRound + 4                   // 56
	offHash    = offStep + 1                    // 57
	offSig     = offHash + sha256.Size          // 89
	offCRC     = offSig + ed25519.SignatureSize // 153
)

var stateMagic = [8]byte{'U', 'R', 'N', 'A', '-', 'S', 'G', 'N'}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// state is what the signer remembers: its key, and the last thing it signed. step 0
// means nothing has been signed yet, and then every other field but pub is zero.
type state struct {
	pub    [ed25519.PublicKeySize]byte
	height uint64
	round  uint32
	step   uint8
	hash   [sha256.Size]byte           // SHA-256 of the sign-bytes
	sig    [ed25519.SignatureSize]byte // the signature released for them
}

func encodeState(s state) []byte {
	b := make([]byte, stateSize)
	copy(b[0:8], stateMagic[:])
	binary.BigEndian.PutUint32(b[offVersion:], stateVersion)
	copy(b[offPub:], s.pub[:])
	binary.BigEndian.PutUint64(b[offHeight:], s.height)
	binary.BigEndian.PutUint32(b[offRound:], s.round)
	b[offStep] = s.step
	copy(b[offHash:], s.hash[:])
	copy(b[offSig:], s.sig[:])
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[:offCRC], castagnoli))
	return b
}

// decodeState parses a state file strictly: exact length, magic, checksum, version,
// a known step, and an all-zero record when nothing has been signed. Errors wrap
// ErrCorruptState.
func decodeState(b []byte) (state, error) {
	bad := func(format string, args ...any) (state, error) {
		return state{}, fmt.Errorf("%w: %s", ErrCorruptState, fmt.Sprintf(format, args...))
	}
	if len(b) != stateSize {
		return bad("%d bytes, want %d", len(b), stateSize)
	}
	if [8]byte(b[0:8]) != stateMagic {
		return bad("magic %q, want %q", b[0:8], stateMagic[:])
	}
	if got, want := binary.BigEndian.Uint32(b[offCRC:]), crc32.Checksum(b[:offCRC], castagnoli); got != want {
		return bad("checksum %08x, computed %08x", got, want)
	}
	if v := binary.BigEndian.Uint32(b[offVersion:]); v != stateVersion {
		return bad("version %d, this build reads version %d", v, stateVersion)
	}
	var s state
	copy(s.pub[:], b[offPub:])
	s.height = binary.BigEndian.Uint64(b[offHeight:])
	s.round = binary.BigEndian.Uint32(b[offRound:])
	s.step = b[offStep]
	copy(s.hash[:], b[offHash:])
	copy(s.sig[:], b[offSig:])
	if s.step > StepPrecommit {
		return bad("step %d is not 0 (nothing signed), propose, prevote or precommit", s.step)
	}
	if s.step == 0 && (s.height != 0 || s.round != 0 || s.hash != [sha256.Size]byte{} || s.sig != [ed25519.SignatureSize]byte{}) {
		return bad("nothing signed (step 0) but height, round, hash or signature is set")
	}
	return s, nil
}
