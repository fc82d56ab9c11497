package audit_test

import (
	"bytes"
	"crypto/ed25519"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/urna-vote/urna/ballot"
	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/bft"
	"github.com/urna-vote/urna/chain/chaintest"
	"github.com/urna-vote/urna/chain/record"
)

// fixture is a whole election on a chain: key generation, a piece of
// equivocation evidence, the polls opened, ballots cast at every station,
// a challenged ballot, the polls closed, t stations' shares, the result.
type fixture struct {
	E    *chaintest.Election
	C    *chaintest.Chain
	Keys []*ballot.KeyShare
	// Where things are: the heights of the ballot blocks, of the
	// challenged ballot, of the evidence, of the shares.
	BallotHeights []uint64
	Spoiled       struct{ Height uint64 }
	Evidence      uint64
	ShareHeights  []uint64
	Want          [][]uint64 // the plain choices' counts
	Turnout       []uint64
	Record        []byte
	VotersUsed    int
}

const fixtureVoters = 30

var (
	fixtureOnce sync.Once
	theFixture  *fixture
)

// election returns the shared fixture (built once; tests must not change it).
func election(t testing.TB) *fixture {
	fixtureOnce.Do(func() { theFixture = buildFixture(t) })
	if theFixture == nil {
		t.Fatal("the fixture could not be built")
	}
	return theFixture
}

func buildFixture(t testing.TB) *fixture {
	e := chaintest.NewElection(t, "mayor", fixtureVoters, 3, nil)
	c := e.NewChain()
	f := &fixture{E: e, C: c}
	f.Keys = c.RunDKG(t)
	// A station signed two prevotes for one height and round.
	fp := bft.Hash(e.Fingerprint())
	vote := func(hash byte) bft.Vote {
		v := bft.Vote{Type: bft.Prevote, Height: 2, Round: 0, BlockHash: bft.Hash{hash}, Validator: 1}
		v.Signature = ed25519.Sign(e.StationKey(1), v.SignBytes(fp))
		return v
	}
	c.Commit(t, &chain.Tx{Kind: chain.TxEvidence, Election: e.Fingerprint(), Payload: bft.EncodeEvidence(&bft.Evidence{A: vote(1), B: vote(2)})})
	f.Evidence = c.State.Height
	c.Approve(t, chain.ActionOpen)
	m := e.Genesis.Manifest()
	f.Want = make([][]uint64, len(m.Contests))
	for ci := range m.Contests {
		f.Want[ci] = make([]uint64, len(m.Contests[ci].Candidates))
	}
	f.Turnout = make([]uint64, e.N())
	r := rand.New(rand.NewPCG(7, 7))
	voter := 0
	for blk := range 3 {
		var txs []*chain.Tx
		for k := range 4 {
			station := (blk + k) % e.N()
			ch := chaintest.RandomChoices(&m, r)
			b, nonces := c.Ballot(t, voter, station, ch)
			if blk == 1 && k == 2 {
				// This voter challenges a first ballot, then casts another.
				el, _ := e.Machine.Election(c.State)
				sp, err := el.Spoil(b, ch, nonces)
				if err != nil {
					t.Fatal(err)
				}
				txs = append(txs, chain.NewSpoiledTx(sp))
				ch = chaintest.RandomChoices(&m, r)
				b, _ = c.Ballot(t, voter, station, ch)
			}
			txs = append(txs, chain.NewBallotTx(b))
			for ci := range ch {
				for si, mark := range ch[ci] {
					if mark {
						f.Want[ci][si]++
					}
				}
			}
			f.Turnout[station]++
			voter++
		}
		c.Commit(t, txs...)
		f.BallotHeights = append(f.BallotHeights, c.State.Height)
		if blk == 1 {
			f.Spoiled.Height = c.State.Height
		}
	}
	f.VotersUsed = voter
	c.Approve(t, chain.ActionClose)
	el, err := e.Machine.Election(c.State)
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range f.Keys[:e.Genesis.Threshold()] {
		ts, err := el.MakeTallyShares(k, c.State.Aggregates, nil)
		if err != nil {
			t.Fatal(err)
		}
		c.Commit(t, chain.NewSignedTx(chain.TxTallyShares, e.Fingerprint(), ts.Encode(), e.StationKey(i)))
		f.ShareHeights = append(f.ShareHeights, c.State.Height)
	}
	if c.State.Phase != chain.PhaseTallied {
		t.Fatalf("fixture ends in %s", c.State.Phase)
	}
	f.Record = writeRecord(t, e, c.Blocks, encodeCerts(c.Certs), uint64(len(c.Blocks)))
	return f
}

func encodeCerts(cs []*bft.Certificate) [][]byte {
	out := make([][]byte, len(cs))
	for i, c := range cs {
		out[i] = bft.EncodeCertificate(c)
	}
	return out
}

// writeRecord writes a record of these blocks and certificates.
func writeRecord(t testing.TB, e *chaintest.Election, blocks, certs [][]byte, end uint64) []byte {
	var buf bytes.Buffer
	w := record.NewWriter(&buf)
	w.Frame(record.KindGenesis, e.Genesis.Encode())
	w.Frame(record.KindRoll, e.Roll.Encode())
	for i := range blocks {
		w.Frame(record.KindBlock, blocks[i])
		w.Frame(record.KindCertificate, certs[i])
	}
	if err := w.End(end); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// prefix replays the fixture's first h blocks into a fresh chain, from
// which a test builds other blocks (certified by every station).
func (f *fixture) prefix(t testing.TB, h uint64) *chaintest.Chain {
	c := f.E.NewChain()
	for _, b := range f.C.Blocks[:h] {
		if _, err := c.Apply(b); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// block decodes the fixture's block at height h.
func (f *fixture) block(t testing.TB, h uint64) *chain.Block {
	b, err := chain.DecodeBlock(f.C.Blocks[h-1], 1<<24)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tx decodes transaction i of the fixture's block at height h.
func (f *fixture) tx(t testing.TB, h uint64, i int) *chain.Tx {
	tx, err := chain.DecodeTx(f.block(t, h).Txs[i])
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

// resigned is the record with block h replaced by these transactions,
// built on the real chain before it and certified by every station: a
// block that only the targeted rule can refuse. The record ends there.
func (f *fixture) resigned(t testing.TB, h uint64, txs [][]byte) []byte {
	return f.resignedWith(t, h, txs, nil)
}

// resignedWith is resigned with the block's header changed by edit.
func (f *fixture) resignedWith(t testing.TB, h uint64, txs [][]byte, edit func(*chain.Block)) []byte {
	c := f.prefix(t, h-1)
	b, err := chain.DecodeBlock(c.Build(), 1<<24)
	if err != nil {
		t.Fatal(err)
	}
	b.Txs = txs
	if edit != nil {
		edit(b)
	}
	data := b.Encode()
	cert := f.E.Certify(h, [32]byte(bft.HashValue(data)))
	blocks := append(append([][]byte(nil), c.Blocks...), data)
	certs := append(encodeCerts(c.Certs), bft.EncodeCertificate(cert))
	return writeRecord(t, f.E, blocks, certs, h)
}
