package chain

import (
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/urna-vote/urna/ballot"
	"github.com/urna-vote/urna/chain/bft"
)

// Header is the part of a block that places it in the chain.
type Header struct {
	_         struct{} `cbor:",toarray"`
	Election  [32]byte // the election fingerprint (the chain id)
	Height    uint64   // 1 for the first block
	PrevHash  [32]byte // hash of the previous block; the fingerprint for block 1
	Proposer  uint32   // station index of the proposer
	Time      int64    // proposer's clock, Unix milliseconds; strictly increasing
	StateHash [32]byte // state hash after the previous block
}

// Block is a header, transactions (each in its canonical bytes) and the
// commit certificate of the previous block (nil for block 1). Its hash is
// SHA-256 of its canonical bytes, the value the consensus decides on.
type Block struct {
	_          struct{} `cbor:",toarray"`
	Header     Header
	Txs        [][]byte
	LastCommit *bft.Certificate
}

// blockOverhead bounds a block's bytes beyond its transactions (header and
// certificate of up to 64 stations).
const blockOverhead = 64 << 10

// ErrBlockEncoding reports bytes that are not a canonical block.
var ErrBlockEncoding = errors.New("not a canonical block")

// Encode returns the canonical bytes of the block.
func (b *Block) Encode() []byte { return ballot.Marshal(b) }

// Hash is SHA-256 of the canonical bytes.
func (b *Block) Hash() [32]byte { return sha256.Sum256(b.Encode()) }

// DecodeBlock decodes a block strictly; maxTxBytes is the genesis's
// max_block_bytes. Transactions are decoded by Validate.
func DecodeBlock(data []byte, maxTxBytes int) (*Block, error) {
	var b Block
	if err := ballot.Unmarshal(data, &b, maxTxBytes+blockOverhead); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBlockEncoding, err)
	}
	return &b, nil
}
