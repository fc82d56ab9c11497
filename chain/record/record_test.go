package record_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/urna-vote/urna/ballot"
	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/bft"
	"github.com/urna-vote/urna/chain/chaintest"
	"github.com/urna-vote/urna/chain/ledger"
	"github.com/urna-vote/urna/chain/record"
	"github.com/urna-vote/urna/chain/store"
)

// exported runs a short election into a store and exports it.
func exported(t testing.TB, ballots int) (*chaintest.Chain, []byte) {
	e := chaintest.NewElection(t, "mayor", 30, 1, nil)
	c := e.NewChain()
	c.RunDKG(t)
	c.Approve(t, chain.ActionOpen)
	m := e.Genesis.Manifest()
	r := rand.New(rand.NewPCG(1, 1))
	for v := range ballots {
		b, _ := c.Ballot(t, v, v%4, chaintest.RandomChoices(&m, r))
		c.Commit(t, chain.NewBallotTx(b))
	}
	s, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l, err := ledger.Open(s, e.Machine)
	if err != nil {
		t.Fatal(err)
	}
	for h, b := range c.Blocks {
		if _, err := l.Commit(b, c.Certs[h]); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	head, err := record.Export(&buf, l, e.Roll.Encode())
	if err != nil || head != uint64(len(c.Blocks)) {
		t.Fatalf("export: %d blocks, %v", head, err)
	}
	return c, buf.Bytes()
}

func TestExportImportRoundTrip(t *testing.T) {
	c, rec := exported(t, 5)
	fp := c.E.Fingerprint()
	v, err := record.Replay(bytes.NewReader(rec), &fp, nil)
	if err != nil {
		t.Fatal(err)
	}
	if v.State.StateHash != c.State.StateHash {
		t.Fatal("replayed record gives another state hash")
	}
	s, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := record.Import(bytes.NewReader(rec), s, &fp); err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Open(s, c.E.Machine)
	if err != nil {
		t.Fatal(err)
	}
	if l.State().StateHash != c.State.StateHash || l.Height() != c.State.Height {
		t.Fatal("imported store has another state")
	}
	// Export again from the imported store: the same bytes.
	var again bytes.Buffer
	if _, err := record.Export(&again, l, c.E.Roll.Encode()); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Bytes(), rec) {
		t.Fatal("re-export differs")
	}
	// Import needs an empty store.
	if _, err := record.Import(bytes.NewReader(rec), s, &fp); err == nil {
		t.Fatal("import into a used store accepted")
	}
}

// Every byte of a record is covered: changing any byte makes Replay fail.
func TestRecordEveryByteCovered(t *testing.T) {
	c, rec := exported(t, 2)
	fp := c.E.Fingerprint()
	positions := []int{}
	// Every byte of the framing and of the first 2 KB (header, genesis),
	// and a seeded sample of the rest.
	for i := range min(len(rec), 2048) {
		positions = append(positions, i)
	}
	r := rand.New(rand.NewPCG(5, 5))
	for range 400 {
		positions = append(positions, 2048+r.IntN(len(rec)-2048))
	}
	for _, i := range positions {
		bad := bytes.Clone(rec)
		bad[i] ^= 1 << (i % 8)
		if _, err := record.Replay(bytes.NewReader(bad), &fp, nil); err == nil {
			t.Fatalf("record with byte %d changed still verifies", i)
		}
	}
}

func TestRecordErrors(t *testing.T) {
	c, rec := exported(t, 1)
	fp := c.E.Fingerprint()
	other := [32]byte{1}
	if _, err := record.Replay(bytes.NewReader(rec), &other, nil); !errors.Is(err, record.ErrFingerprint) {
		t.Errorf("other fingerprint: %v", err)
	}
	if _, err := record.Replay(bytes.NewReader(rec[:len(rec)-9]), &fp, nil); !errors.Is(err, record.ErrFormat) {
		t.Errorf("no end frame: %v", err)
	}
	if _, err := record.Replay(bytes.NewReader(append(bytes.Clone(rec), 0)), &fp, nil); !errors.Is(err, record.ErrFormat) {
		t.Errorf("trailing byte: %v", err)
	}
	if _, err := record.Replay(bytes.NewReader(rec[:len(rec)/2]), &fp, nil); !errors.Is(err, record.ErrFormat) {
		t.Errorf("truncated: %v", err)
	}
	// A different roll.
	var buf bytes.Buffer
	w := record.NewWriter(&buf)
	w.Frame(record.KindGenesis, c.E.Genesis.Encode())
	_, roll, _ := ballot.GenerateCodes(c.E.Genesis.ElectionID(), 30, nil)
	w.Frame(record.KindRoll, roll.Encode())
	w.End(0)
	if _, err := record.Replay(&buf, &fp, nil); !errors.Is(err, record.ErrRoll) {
		t.Errorf("another roll: %v", err)
	}
	// Blocks cut off before the end: the end frame must match.
	buf.Reset()
	w = record.NewWriter(&buf)
	w.Frame(record.KindGenesis, c.E.Genesis.Encode())
	w.Frame(record.KindRoll, c.E.Roll.Encode())
	w.Frame(record.KindBlock, c.Blocks[0])
	w.Frame(record.KindCertificate, mustCert(t, c, 0))
	w.End(5)
	if _, err := record.Replay(&buf, &fp, nil); !errors.Is(err, record.ErrEnd) {
		t.Errorf("end frame lies: %v", err)
	}
	// A block's certificate swapped for the next one's.
	buf.Reset()
	w = record.NewWriter(&buf)
	w.Frame(record.KindGenesis, c.E.Genesis.Encode())
	w.Frame(record.KindRoll, c.E.Roll.Encode())
	w.Frame(record.KindBlock, c.Blocks[0])
	w.Frame(record.KindCertificate, mustCert(t, c, 1))
	w.End(1)
	if _, err := record.Replay(&buf, &fp, nil); !errors.Is(err, record.ErrCertificate) {
		t.Errorf("wrong certificate: %v", err)
	}
}

func mustCert(t testing.TB, c *chaintest.Chain, h int) []byte {
	return bft.EncodeCertificate(c.Certs[h])
}

func FuzzReplay(f *testing.F) {
	c, rec := exported(f, 1)
	fp := c.E.Fingerprint()
	f.Add(rec)
	f.Add(rec[:100])
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = record.Replay(bytes.NewReader(data), &fp, nil)
	})
}
