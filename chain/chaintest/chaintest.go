// Package chaintest builds elections and chains for the tests of the
// packages above ballot: a generated election from one of the sample
// configs, and a chain driven block by block with real certificates,
// without a network or a disk. It is imported only by tests.
package chaintest

import (
	"crypto/ed25519"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/urna-vote/urna/ballot"
	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/bft"
	"github.com/urna-vote/urna/chain/genesis"
)

// ConfigPath is the path of a sample config in election-configs/.
func ConfigPath(name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "election-configs", name+".yaml")
}

// Election is a generated election with every secret at hand.
type Election struct {
	*genesis.Setup
	Machine *chain.Machine
}

// NewElection generates an election from the sample config name
// ("mayor", "general") with voters voting codes. edit, if not nil, changes
// the template first (params, threshold, ...). seed makes it reproducible.
func NewElection(t testing.TB, name string, voters int, seed uint64, edit func(*genesis.Config)) *Election {
	t.Helper()
	cfg, _, err := genesis.LoadConfig(ConfigPath(name))
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(cfg)
	}
	var s [32]byte
	s[0], s[1] = byte(seed), byte(seed>>8)
	setup, err := genesis.Generate(cfg, voters, rand.NewChaCha8(s))
	if err != nil {
		t.Fatal(err)
	}
	m, err := chain.NewMachine(setup.Genesis, setup.Roll)
	if err != nil {
		t.Fatal(err)
	}
	return &Election{Setup: setup, Machine: m}
}

// Fingerprint is the election fingerprint.
func (e *Election) Fingerprint() [32]byte { return e.Genesis.Fingerprint() }

// N is the number of stations.
func (e *Election) N() int { return len(e.StationSeeds) }

// Credential is voter i's credential.
func (e *Election) Credential(i int) *ballot.Credential {
	return ballot.DeriveCredential(e.Genesis.ElectionID(), e.Codes[i])
}

// Certify signs a certificate for (height, hash) by the given stations (all
// when none are given).
func (e *Election) Certify(height uint64, hash [32]byte, stations ...int) *bft.Certificate {
	if len(stations) == 0 {
		for i := range e.N() {
			stations = append(stations, i)
		}
	}
	slices.Sort(stations)
	c := &bft.Certificate{Height: height, BlockHash: bft.Hash(hash)}
	v := bft.Vote{Type: bft.Precommit, Height: height, BlockHash: bft.Hash(hash)}
	msg := v.SignBytes(bft.Hash(e.Fingerprint()))
	for _, i := range stations {
		c.Signatures = append(c.Signatures, bft.CommitSig{Validator: uint32(i), Signature: ed25519.Sign(e.StationKey(i), msg)})
	}
	return c
}

// Chain is a chain in memory: a state, its key/value data, and the blocks
// and certificates so far.
type Chain struct {
	E      *Election
	State  *chain.State
	KV     *chain.MemKV
	Blocks [][]byte
	Certs  []*bft.Certificate
}

// NewChain starts a chain at the genesis.
func (e *Election) NewChain() *Chain {
	return &Chain{E: e, State: e.Machine.InitialState(), KV: chain.NewMemKV()}
}

// Build makes the next block with these transactions, proposed by the
// round-robin proposer, one second after the previous block.
func (c *Chain) Build(txs ...*chain.Tx) []byte {
	b := &chain.Block{Header: chain.Header{
		Election:  c.E.Fingerprint(),
		Height:    c.State.Height + 1,
		PrevHash:  c.State.BlockHash,
		Proposer:  uint32(c.State.Height % uint64(c.E.N())),
		Time:      c.State.Time + 1000,
		StateHash: c.State.StateHash,
	}}
	for _, tx := range txs {
		b.Txs = append(b.Txs, tx.Encode())
	}
	if len(c.Certs) > 0 {
		b.LastCommit = c.Certs[len(c.Certs)-1]
	}
	return b.Encode()
}

// Apply applies block bytes and, if valid, makes them the head.
func (c *Chain) Apply(data []byte) (*chain.Applied, error) {
	a, err := c.E.Machine.Apply(c.State, c.KV, data)
	if err != nil {
		return nil, err
	}
	c.KV.Write(a.Writes)
	c.State = a.State
	c.Blocks = append(c.Blocks, data)
	c.Certs = append(c.Certs, c.E.Certify(a.State.Height, a.Hash))
	return a, nil
}

// Commit builds and applies a block; the test fails if it is invalid.
func (c *Chain) Commit(t testing.TB, txs ...*chain.Tx) *chain.Applied {
	t.Helper()
	a, err := c.Apply(c.Build(txs...))
	if err != nil {
		t.Fatalf("block %d rejected: %v", c.State.Height+1, err)
	}
	return a
}

// RunDKG runs the key generation on the chain (deals, responses, then
// announcements, a block each) among the given stations (all when none),
// and checks that the chain is READY afterwards.
func (c *Chain) RunDKG(t testing.TB, stations ...int) []*ballot.KeyShare {
	t.Helper()
	if len(stations) == 0 {
		for i := range c.E.N() {
			stations = append(stations, i)
		}
	}
	fp := c.E.Fingerprint()
	dkgs := make([]*ballot.DKG, c.E.N())
	var deals []*ballot.DealBundle
	var txs []*chain.Tx
	for _, i := range stations {
		d, err := ballot.NewDKG(fp, c.E.StationSeeds[i], c.E.Genesis.StationKeys(), c.E.Genesis.Threshold())
		if err != nil {
			t.Fatal(err)
		}
		dkgs[i] = d
		b, err := d.Deals()
		if err != nil {
			t.Fatal(err)
		}
		deals = append(deals, b)
		txs = append(txs, chain.NewSignedTx(chain.TxDKGDeal, fp, b.Encode(), c.E.StationKey(i)))
	}
	c.Commit(t, txs...)
	txs = nil
	var responses []*ballot.ResponseBundle
	for _, i := range stations {
		rb := &ballot.ResponseBundle{Responder: uint32(i)}
		for _, b := range deals {
			r, err := dkgs[i].ProcessDeals(b)
			if err != nil {
				t.Fatal(err)
			}
			if r != nil {
				rb.Responses = append(rb.Responses, *r)
			}
		}
		responses = append(responses, rb)
		txs = append(txs, chain.NewSignedTx(chain.TxDKGResponse, fp, rb.Encode(), c.E.StationKey(i)))
	}
	c.Commit(t, txs...)
	txs = nil
	missing := len(stations) < c.E.N()
	if missing {
		// Wait out the deadline with empty blocks.
		for c.State.Height < uint64(c.E.Genesis.Params().DKGDeadlineHeight) {
			c.Commit(t)
		}
	}
	var shares []*ballot.KeyShare
	for _, i := range stations {
		for _, rb := range responses {
			if _, err := dkgs[i].ProcessResponses(rb); err != nil {
				t.Fatal(err)
			}
		}
		if missing {
			dkgs[i].Timeout()
		}
		k, err := dkgs[i].Finish()
		if err != nil {
			t.Fatal(err)
		}
		shares = append(shares, k)
		txs = append(txs, chain.NewSignedTx(chain.TxKeyAnnouncement, fp, k.Result.Encode(), c.E.StationKey(i)))
	}
	c.Commit(t, txs...)
	if c.State.Phase != chain.PhaseReady {
		t.Fatalf("after the DKG the chain is %s, want READY", c.State.Phase)
	}
	return shares
}

// Approve has the first quorum officials approve an action in one block.
func (c *Chain) Approve(t testing.TB, action chain.Action) {
	t.Helper()
	q := c.E.Genesis.OpenQuorum()
	if action == chain.ActionClose {
		q = c.E.Genesis.CloseQuorum()
	}
	var txs []*chain.Tx
	for i := range q {
		txs = append(txs, chain.NewApprovalTx(c.E.Fingerprint(), action, c.E.OfficialKey(i)))
	}
	c.Commit(t, txs...)
}

// Ballot makes voter i's ballot for these choices, cast at station s.
func (c *Chain) Ballot(t testing.TB, voter, station int, choices ballot.Choices) (*ballot.Ballot, ballot.Nonces) {
	t.Helper()
	e, err := c.E.Machine.Election(c.State)
	if err != nil {
		t.Fatal(err)
	}
	b, nonces, err := e.NewBallot(c.E.Credential(voter), c.E.Config.Stations[station].ID, choices, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b, nonces
}

// RandomChoices marks each contest at random within its limit.
func RandomChoices(m *ballot.Manifest, r *rand.Rand) ballot.Choices {
	ch := make(ballot.Choices, len(m.Contests))
	for ci, c := range m.Contests {
		ch[ci] = make([]bool, len(c.Candidates))
		k := r.IntN(c.Limit + 1)
		for _, i := range r.Perm(len(c.Candidates))[:k] {
			ch[ci][i] = true
		}
	}
	return ch
}
