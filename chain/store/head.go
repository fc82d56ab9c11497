package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// headRecord is what the store keeps under the head key: which block is the
// head and SHA-256 digests of the bytes stored with it, so Open can tell a
// consistent head from one whose block, certificate or state was lost or
// replaced. The digests are the store's own check; they are not the chain's
// block hash, which the chain computes and the store only records.
//
// Encoding (headRecordLen bytes, integers big-endian):
//
//	offset size field
//	0      8    magic "URNAHEAD"
//	8      4    version, 1
//	12     8    height, at least 1
//	20     32   block hash (as given to Commit)
//	52     32   SHA-256 of the block bytes
//	84     32   SHA-256 of the certificate bytes
//	116    32   SHA-256 of the root state bytes
//	148    4    CRC-32C (Castagnoli) of bytes 0..148
type headRecord struct {
	Height      uint64
	BlockHash   [32]byte
	BlockDigest [32]byte
	CertDigest  [32]byte
	StateDigest [32]byte
}

const (
	headMagic     = "URNAHEAD"
	headVersion   = 1
	headRecordLen = 152
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func digest(b []byte) [32]byte { return sha256.Sum256(b) }

func (r *headRecord) encode() []byte {
	b := make([]byte, headRecordLen)
	copy(b[0:8], headMagic)
	binary.BigEndian.PutUint32(b[8:12], headVersion)
	binary.BigEndian.PutUint64(b[12:20], r.Height)
	copy(b[20:52], r.BlockHash[:])
	copy(b[52:84], r.BlockDigest[:])
	copy(b[84:116], r.CertDigest[:])
	copy(b[116:148], r.StateDigest[:])
	binary.BigEndian.PutUint32(b[148:152], crc32.Checksum(b[:148], castagnoli))
	return b
}

// decodeHead parses a head record, accepting only the exact layout above.
// Every error wraps ErrCorrupt: the head record comes from disk, and one that
// does not decode means the store cannot say where its chain ends.
func decodeHead(b []byte) (headRecord, error) {
	var r headRecord
	if len(b) != headRecordLen {
		return r, fmt.Errorf("%w: head record is %d bytes, want %d", ErrCorrupt, len(b), headRecordLen)
	}
	if !bytes.Equal(b[0:8], []byte(headMagic)) {
		return r, fmt.Errorf("%w: head record: bad magic %q", ErrCorrupt, b[0:8])
	}
	if got, want := binary.BigEndian.Uint32(b[148:152]), crc32.Checksum(b[:148], castagnoli); got != want {
		return r, fmt.Errorf("%w: head record: checksum %08x, computed %08x", ErrCorrupt, got, want)
	}
	if v := binary.BigEndian.Uint32(b[8:12]); v != headVersion {
		return r, fmt.Errorf("%w: head record: version %d, want %d", ErrCorrupt, v, headVersion)
	}
	r.Height = binary.BigEndian.Uint64(b[12:20])
	if r.Height == 0 {
		return r, fmt.Errorf("%w: head record: height 0", ErrCorrupt)
	}
	copy(r.BlockHash[:], b[20:52])
	copy(r.BlockDigest[:], b[52:84])
	copy(r.CertDigest[:], b[84:116])
	copy(r.StateDigest[:], b[116:148])
	return r, nil
}
