package store_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/urna-vote/urna/chain/store"
)

func validHeadRecord() store.HeadRecord {
	r := store.HeadRecord{Height: 42}
	for i := range r.BlockHash {
		r.BlockHash[i] = byte(i)
		r.BlockDigest[i] = byte(i + 1)
		r.CertDigest[i] = byte(i + 2)
		r.StateDigest[i] = byte(i + 3)
	}
	return r
}

func TestHeadRecordRoundTrip(t *testing.T) {
	r := validHeadRecord()
	b := store.EncodeHead(r)
	if len(b) != store.HeadRecordLen {
		t.Fatalf("encoded %d bytes, want %d", len(b), store.HeadRecordLen)
	}
	got, err := store.DecodeHead(b)
	if err != nil || got != r {
		t.Fatalf("DecodeHead(EncodeHead(r)) = %+v, %v", got, err)
	}
}

// TestDecodeHeadRejects: every field the decoder checks, broken one at a time.
func TestDecodeHeadRejects(t *testing.T) {
	good := store.EncodeHead(validHeadRecord())
	zeroHeight := validHeadRecord()
	zeroHeight.Height = 0
	for name, b := range map[string][]byte{
		"empty":          nil,
		"short":          good[:store.HeadRecordLen-1],
		"long":           append(append([]byte{}, good...), 0),
		"bad magic":      flip(good, 0),
		"bad version":    flip(good, 11),
		"height flipped": flip(good, 19),
		"hash flipped":   flip(good, 30),
		"digest flipped": flip(good, 120),
		"bad checksum":   flip(good, 150),
		"height zero":    store.EncodeHead(zeroHeight),
	} {
		if _, err := store.DecodeHead(b); !errors.Is(err, store.ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x01
	return c
}

// FuzzDecodeHead: no input panics, and whatever decodes re-encodes to the same
// bytes (the layout admits exactly one encoding of each record).
func FuzzDecodeHead(f *testing.F) {
	good := store.EncodeHead(validHeadRecord())
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte("URNAHEAD"))
	f.Add(good[:100])
	f.Add(flip(good, 150))
	f.Add(flip(good, 10))
	f.Add(append(append([]byte{}, good...), good...))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := store.DecodeHead(b)
		if err != nil {
			if !errors.Is(err, store.ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if r.Height == 0 {
			t.Fatal("decoded a head at height 0")
		}
		if !bytes.Equal(store.EncodeHead(r), b) {
			t.Fatalf("decoded %x but it re-encodes differently", b)
		}
	})
}
