package store_test

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/urna-vote/urna/chain/store"
)

// ballotBlock is a commit of n ballot-sized entries: a block of n × 4 KiB
// (the canonical bytes of n ballots), n state writes of ~100 bytes (one per
// credential) and n index writes (tracking code → height, position, flag).
type ballotBlock struct {
	block []byte
	ids   [][]byte // n sorted 24-byte ids: the ballots' credentials
	codes [][]byte // n sorted 16-byte tracking codes
	value []byte   // a 100-byte state value
}

func newBallotBlock(n int) *ballotBlock {
	rng := rand.New(rand.NewPCG(1, 2))
	bb := &ballotBlock{block: make([]byte, n*4096), value: make([]byte, 100)}
	for i := range bb.block {
		bb.block[i] = byte(rng.Uint32())
	}
	for i := 0; i < n; i++ {
		id, code := make([]byte, 24), make([]byte, 16)
		for j := range id {
			id[j] = byte(rng.Uint32())
		}
		for j := range code {
			code[j] = byte(rng.Uint32())
		}
		bb.ids, bb.codes = append(bb.ids, id), append(bb.codes, code)
	}
	slices.SortFunc(bb.ids, bytes.Compare)
	slices.SortFunc(bb.codes, bytes.Compare)
	return bb
}

// commit builds block h: keys carry the height first so every block writes
// new keys, as new ballots do.
func (bb *ballotBlock) commit(h uint64) *store.Commit {
	c := &store.Commit{Height: h, Block: bb.block, Certificate: make([]byte, 7*100), State: make([]byte, 2048)}
	binary.BigEndian.PutUint64(c.BlockHash[:], h)
	c.Writes = make([]store.KV, len(bb.ids))
	c.Index = make([]store.KV, len(bb.codes))
	for i := range bb.ids {
		k := make([]byte, 0, 2+8+24)
		k = append(binary.BigEndian.AppendUint64(append(k, "b/"...), h), bb.ids[i]...)
		c.Writes[i] = store.KV{Key: k, Value: bb.value}
		t := make([]byte, 0, 2+8+16)
		t = append(binary.BigEndian.AppendUint64(append(t, "t/"...), h), bb.codes[i]...)
		var pos [13]byte
		binary.BigEndian.PutUint64(pos[:], h)
		binary.BigEndian.PutUint32(pos[8:], uint32(i))
		c.Index[i] = store.KV{Key: t, Value: pos[:]}
	}
	return c
}

func (bb *ballotBlock) bytes() int64 {
	n := int64(len(bb.block))
	for i := range bb.ids {
		n += int64(2+8+len(bb.ids[i])+len(bb.value)) + int64(2+8+len(bb.codes[i])+13)
	}
	return n
}

// BenchmarkCommit: one synchronous commit of a block of 1,000 ballots (4 MB
// block, 1,000 state writes, 1,000 index writes) with the default options.
func BenchmarkCommit(b *testing.B) {
	bb := newBallotBlock(1000)
	s := openStore(b, b.TempDir(), store.Options{})
	defer s.Close()
	size, entries := s.CommitSize(bb.commit(1))
	b.Logf("transaction estimate %d bytes, %d keys; limits %+v", size, entries, s.Limits())
	b.SetBytes(bb.bytes())
	h := uint64(0)
	for b.Loop() {
		h++
		if err := s.Commit(bb.commit(h)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCommitSmall: a block of one ballot, the latency a voter sees in a
// quiet station (dominated by the fsyncs).
func BenchmarkCommitSmall(b *testing.B) {
	bb := newBallotBlock(1)
	s := openStore(b, b.TempDir(), store.Options{})
	defer s.Close()
	b.SetBytes(bb.bytes())
	h := uint64(0)
	for b.Loop() {
		h++
		if err := s.Commit(bb.commit(h)); err != nil {
			b.Fatal(err)
		}
	}
}

// readStore is a store of 100 blocks × 1,000 ballots' state and index writes
// (block bytes kept small so building it is quick).
func readStore(b *testing.B) (*store.Store, *ballotBlock) {
	bb := newBallotBlock(1000)
	bb.block = bb.block[:4096]
	s := openStore(b, b.TempDir(), store.Options{})
	for h := uint64(1); h <= 100; h++ {
		if err := s.Commit(bb.commit(h)); err != nil {
			b.Fatal(err)
		}
	}
	return s, bb
}

// BenchmarkGet: a state read of a random one of 100,000 keys.
func BenchmarkGet(b *testing.B) {
	benchmarkRead(b, func(c *store.Commit) []store.KV { return c.Writes }, (*store.Store).Get)
}

// BenchmarkGetIndex: a tracking-code lookup among 100,000.
func BenchmarkGetIndex(b *testing.B) {
	benchmarkRead(b, func(c *store.Commit) []store.KV { return c.Index }, (*store.Store).GetIndex)
}

func benchmarkRead(b *testing.B, kvs func(*store.Commit) []store.KV, get func(*store.Store, []byte) ([]byte, error)) {
	s, bb := readStore(b)
	defer s.Close()
	var keys [][]byte
	for h := uint64(1); h <= 100; h++ {
		for _, w := range kvs(bb.commit(h)) {
			keys = append(keys, w.Key)
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	i := 0
	for b.Loop() {
		if _, err := get(s, keys[i%len(keys)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkBlock: reading back a 4 MB block (from the value log).
func BenchmarkBlock(b *testing.B) {
	bb := newBallotBlock(1000)
	s := openStore(b, b.TempDir(), store.Options{})
	defer s.Close()
	for h := uint64(1); h <= 3; h++ {
		if err := s.Commit(bb.commit(h)); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(bb.block)))
	for b.Loop() {
		blk, err := s.Block(2)
		if err != nil || len(blk) != len(bb.block) {
			b.Fatal(err)
		}
	}
}

// BenchmarkLookupMiss: a state look-up of a key that is not there, in a store
// holding the state keys of 300,000 ballots (2.1 M random keys, as credentials
// and ciphertexts are): what the state machine does for every new ballot's
// credential, tracking code and ciphertexts. Nearly all of its cost is
// Badger's Bloom filters, one per table in level 0 and one per level below,
// and the table blocks read when a filter gives a false positive.
// URNA_BENCH_TRIM_INTERVAL_MS sets Options.TrimInterval (-1: trim by bytes
// only), to measure what paging the tables out costs the look-ups.
func BenchmarkLookupMiss(b *testing.B) {
	const (
		blocks        = 300
		keysPerBlock  = 7000 // 1,000 ballots × 7 state keys
		keyLen        = 37   // "cred/" and a 32-byte key
		valueLen      = 32   // a ballot hash
		lookupsToMake = 1 << 16
	)
	rng := rand.NewChaCha8([32]byte{5, 6})
	s := openStore(b, b.TempDir(), store.Options{TrimInterval: time.Duration(envInt(b, "URNA_BENCH_TRIM_INTERVAL_MS", 0)) * time.Millisecond})
	defer s.Close()
	value := make([]byte, valueLen)
	for h := uint64(1); h <= blocks; h++ {
		c := &store.Commit{Height: h, Block: make([]byte, 4096), Certificate: make([]byte, 700), State: make([]byte, 2048)}
		binary.BigEndian.PutUint64(c.BlockHash[:], h)
		c.Writes = make([]store.KV, keysPerBlock)
		for i := range c.Writes {
			c.Writes[i] = store.KV{Key: randomBytes(rng, keyLen), Value: value}
		}
		sortKVs(c.Writes)
		if err := s.Commit(c); err != nil {
			b.Fatal(err)
		}
	}
	misses := make([][]byte, lookupsToMake)
	for i := range misses {
		misses[i] = randomBytes(rng, keyLen)
	}
	i := 0
	for b.Loop() {
		if _, found, err := s.Lookup(misses[i%len(misses)]); err != nil || found {
			b.Fatalf("Lookup of an absent key: found %v, %v", found, err)
		}
		i++
	}
}
