//go:build urnabyzantine

// A Byzantine station, for tests only: this file is compiled only with the
// build tag urnabyzantine, never into a released binary (a test checks that
// the released `urna node` refuses --byzantine). The station runs the real
// engine; what it sends to the other stations is rewritten on the way out,
// signed with its own key, so the honest stations see exactly what a
// compromised station could send them.

package main

import (
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"

	"github.com/urna-vote/urna/ballot"
	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/bft"
	"github.com/urna-vote/urna/chain/station"
	"go.dedis.ch/kyber/v3"
	"go.dedis.ch/kyber/v3/group/edwards25519"
	"go.dedis.ch/kyber/v3/share"
	dkg "go.dedis.ch/kyber/v3/share/dkg/pedersen"
	vss "go.dedis.ch/kyber/v3/share/vss/pedersen"
	"go.dedis.ch/kyber/v3/sign/schnorr"
)

// byzantineAttacks are the behaviours --byzantine selects.
var byzantineAttacks = []string{
	// equivocate: as proposer at heights h with h/n odd (n stations),
	// send the odd stations another valid block than the even ones (both
	// signed).
	"equivocate",
	// double-vote: send the odd stations a second, conflicting vote with
	// every vote (both signed): the evidence of an equivocation.
	"double-vote",
	// invalid-ballots: as proposer at heights h with h/n even, propose a
	// block in which a ballot is replaced by a forged one (a response of
	// its first range proof replaced by another's), or, without ballots, a
	// ballot transaction that does not decode.
	"invalid-ballots",
	// replay: re-send the station's own consensus messages of past heights.
	"replay",
	// The key generation and the tally: the station's own transactions are
	// replaced, in what it gossips and in the blocks it proposes (its
	// engine does not know).
	//
	// dkg-wrong-share: its deal bundle is made afresh, with a share for
	// the next station that is not on its polynomial (never justified).
	"dkg-wrong-share",
	// dkg-undecryptable: its deals' ciphertexts are random bytes (signed).
	"dkg-undecryptable",
	// other-key: it announces a well-formed result of a key nobody holds.
	"other-key",
	// bad-shares: its decryption shares carry proofs that do not verify.
	"bad-shares",
}

// consensusAttacks are the attacks "all" selects; the others change the
// station's transactions and are chosen by name.
var consensusAttacks = []string{"equivocate", "double-vote", "invalid-ballots", "replay"}

func init() {
	testOnlyNodeFlags = func(fs *flag.FlagSet) func(station.Transport, *home, *slog.Logger) (station.Transport, error) {
		modes := fs.String("byzantine", "", "TEST-ONLY BUILD: misbehave: comma-separated "+strings.Join(byzantineAttacks, ", ")+", or all ("+strings.Join(consensusAttacks, ", ")+")")
		return func(tr station.Transport, h *home, log *slog.Logger) (station.Transport, error) {
			if *modes == "" {
				return tr, nil
			}
			b := &byzantineTransport{Transport: tr, log: log.With("part", "byzantine"), on: map[string]bool{}}
			for _, m := range strings.Split(*modes, ",") {
				switch {
				case m == "all":
					for _, a := range consensusAttacks {
						b.on[a] = true
					}
				case slices.Contains(byzantineAttacks, m):
					b.on[m] = true
				default:
					return nil, fmt.Errorf("--byzantine: unknown attack %q (want %s or all)", m, strings.Join(byzantineAttacks, ", "))
				}
			}
			b.key = ed25519.NewKeyFromSeed(h.seed)
			b.chainID = bft.Hash(h.genesis.Fingerprint())
			b.fp = h.genesis.Fingerprint()
			b.n = len(h.genesis.Stations())
			idx, _ := h.genesis.StationByKey(h.publicKey())
			b.self = idx
			b.rng = rand.New(rand.NewPCG(uint64(idx), 14))
			b.seed = h.seed
			b.pub = h.publicKey()
			b.stationKeys = h.genesis.StationKeys()
			b.threshold = h.genesis.Threshold()
			if b.on["dkg-wrong-share"] && b.on["dkg-undecryptable"] {
				return nil, errors.New("--byzantine: dkg-wrong-share and dkg-undecryptable both replace the deal; choose one")
			}
			b.log.Warn("byzantine station: attacking", "attacks", *modes)
			return b, nil
		}
	}
}

// byzantineTransport rewrites a station's outgoing consensus messages and
// its own transactions.
type byzantineTransport struct {
	station.Transport
	log     *slog.Logger
	on      map[string]bool
	key     ed25519.PrivateKey
	chainID bft.Hash
	fp      [32]byte
	n, self int

	mu      sync.Mutex
	rng     *rand.Rand
	sent    [][]byte // own consensus messages, for replay (bounded ring)
	next    int
	height  uint64 // highest height of an own message
	variant map[bft.Hash][2][]byte
	logged  map[attackAt]bool

	// For the transaction attacks.
	seed        []byte
	pub         ed25519.PublicKey
	stationKeys []ed25519.PublicKey
	threshold   int
	forgedTx    map[[32]byte][]byte // own transaction's hash → its replacement
}

const replayRing = 128

func (b *byzantineTransport) Send(to int, ch station.Channel, data []byte) {
	if ch == station.ChannelGossip {
		b.Transport.Send(to, ch, b.replaceTx(data))
		return
	}
	if ch != station.ChannelConsensus {
		b.Transport.Send(to, ch, data)
		return
	}
	for _, out := range b.rewrite(to, data) {
		b.Transport.Send(to, ch, out)
	}
}

func (b *byzantineTransport) Broadcast(ch station.Channel, data []byte) {
	if ch == station.ChannelGossip {
		b.Transport.Broadcast(ch, b.replaceTx(data))
		return
	}
	if ch != station.ChannelConsensus {
		b.Transport.Broadcast(ch, data)
		return
	}
	for to := range b.n {
		if to != b.self {
			b.Send(to, ch, data)
		}
	}
}

// rewrite returns what station to gets instead of data.
func (b *byzantineTransport) rewrite(to int, data []byte) [][]byte {
	m, err := bft.DecodeMessage(data)
	if err != nil || (m.Vote == nil && m.Proposal == nil) {
		return [][]byte{data}
	}
	if (m.Vote != nil && int(m.Vote.Validator) != b.self) || (m.Proposal != nil && int(m.Proposal.Proposer) != b.self) {
		return [][]byte{data} // another station's message, relayed by gossip: only our own are attacks
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	out := [][]byte{data}
	switch {
	case m.Vote != nil:
		b.remember(m.Vote.Height, data)
		if b.on["double-vote"] && to%2 == 1 {
			v := *m.Vote
			if v.BlockHash.IsZero() {
				v.BlockHash = bft.Hash{byte(b.rng.Uint32()), 1}
			} else {
				v.BlockHash = bft.Hash{}
			}
			v.Signature = ed25519.Sign(b.key, v.SignBytes(b.chainID))
			out = append(out, encodeMsg(bft.Message{Vote: &v}))
			b.once("double vote", v.Height, uint64(v.Round))
		}
	case m.Proposal != nil:
		b.remember(m.Proposal.Height, data)
		out = [][]byte{b.proposal(to, m.Proposal, data)}
	}
	if b.on["replay"] && len(b.sent) > 0 && b.rng.IntN(4) == 0 {
		// An old message of this station, at least two heights back.
		old := b.sent[b.rng.IntN(len(b.sent))]
		if om, err := bft.DecodeMessage(old); err == nil && msgHeight(om)+2 <= b.height {
			out = append(out, old)
			b.once("replayed old message", 0, 0)
		}
	}
	return out
}

func (b *byzantineTransport) remember(h uint64, data []byte) {
	b.height = max(b.height, h)
	if len(b.sent) < replayRing {
		b.sent = append(b.sent, data)
		return
	}
	b.sent[b.next] = data
	b.next = (b.next + 1) % replayRing
}

// proposal rewrites an own proposal for station to: the same rewritten
// bytes for every recipient of one variant, so the attack is consistent.
func (b *byzantineTransport) proposal(to int, p *bft.Proposal, data []byte) []byte {
	if q, ok := b.replaceTxsIn(p); ok {
		p, data = q, encodeMsg(bft.Message{Proposal: q})
	}
	// Alternate by the station's turns as first proposer (every n-th
	// height): one turn equivocates, the next proposes an invalid block.
	odd := (p.Height/uint64(b.n))%2 == 1
	switch {
	case odd && b.on["equivocate"]:
		if to%2 == 0 {
			return data
		}
		return b.variantOf(p, data, 1, func(blk *chain.Block) { blk.Header.Time++ })
	case !odd && b.on["invalid-ballots"]:
		return b.variantOf(p, data, 0, func(blk *chain.Block) {
			if !b.forgeBallot(blk) {
				b.once("proposal with a ballot that does not decode", p.Height, uint64(p.Round))
			}
		})
	}
	return data
}

func (b *byzantineTransport) variantOf(p *bft.Proposal, data []byte, which int, change func(*chain.Block)) []byte {
	h := bft.HashValue(data)
	if b.variant == nil {
		b.variant = map[bft.Hash][2][]byte{}
	}
	if v, ok := b.variant[h]; ok && v[which] != nil {
		return v[which]
	}
	blk, err := chain.DecodeBlock(p.Block, bft.MaxBlockBytes)
	if err != nil {
		return data
	}
	change(blk)
	q := *p
	q.Block = blk.Encode()
	q.Signature = ed25519.Sign(b.key, q.SignBytes(b.chainID))
	out := encodeMsg(bft.Message{Proposal: &q})
	if len(b.variant) > 256 {
		clear(b.variant)
	}
	v := b.variant[h]
	v[which] = out
	b.variant[h] = v
	kind := "equivocating proposal"
	if which == 0 {
		kind = "proposal with an invalid ballot"
	}
	b.once(kind, p.Height, uint64(p.Round))
	return out
}

// forgeBallot replaces the block's first ballot by a copy whose first
// range proof has one response replaced by another's: it decodes, but does
// not verify. Without a ballot to forge (the polls are not open yet) it
// adds a ballot transaction whose payload is no ballot, and returns false.
func (b *byzantineTransport) forgeBallot(blk *chain.Block) bool {
	for i, raw := range blk.Txs {
		tx, err := chain.DecodeTx(raw)
		if err != nil || tx.Kind != chain.TxBallot {
			continue
		}
		bl, err := ballot.DecodeBallot(tx.Payload)
		if err != nil || len(bl.Contests) == 0 || len(bl.Contests[0].Proof.Branches) < 2 {
			continue
		}
		pr := &bl.Contests[0].Proof
		pr.Branches[0].V = pr.Branches[1].V
		blk.Txs[i] = chain.NewBallotTx(bl).Encode()
		return true
	}
	blk.Txs = append(blk.Txs, (&chain.Tx{Kind: chain.TxBallot, Election: b.fp, Payload: []byte{0x81, 0x01}}).Encode())
	return false
}

// once logs an attack once per height and round.
func (b *byzantineTransport) once(what string, h, r uint64) {
	if b.logged == nil || len(b.logged) > 4096 {
		b.logged = map[attackAt]bool{}
	}
	k := attackAt{what, h, r}
	if b.logged[k] {
		return
	}
	b.logged[k] = true
	b.log.Warn("byzantine: sent "+what, "height", h, "round", r)
}

// replaceTxsIn replaces the station's own transactions in a proposal's
// block, and signs the proposal again.
func (b *byzantineTransport) replaceTxsIn(p *bft.Proposal) (*bft.Proposal, bool) {
	blk, err := chain.DecodeBlock(p.Block, bft.MaxBlockBytes)
	if err != nil {
		return nil, false
	}
	changed := false
	for i, raw := range blk.Txs {
		if out, ok := b.replaceTxLocked(raw); ok {
			blk.Txs[i], changed = out, true
		}
	}
	if !changed {
		return nil, false
	}
	q := *p
	q.Block = blk.Encode()
	q.Signature = ed25519.Sign(b.key, q.SignBytes(b.chainID))
	return &q, true
}

// replaceTx returns the replacement of one of the station's own
// transactions, or raw itself.
func (b *byzantineTransport) replaceTx(raw []byte) []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	out, _ := b.replaceTxLocked(raw)
	return out
}

func (b *byzantineTransport) replaceTxLocked(raw []byte) ([]byte, bool) {
	tx, err := chain.DecodeTx(raw)
	if err != nil || !b.pub.Equal(ed25519.PublicKey(tx.Signer)) {
		return raw, false
	}
	h := tx.Hash()
	if out, ok := b.forgedTx[h]; ok {
		return out, true
	}
	var payload []byte
	var what string
	switch {
	case tx.Kind == chain.TxDKGDeal && b.on["dkg-wrong-share"]:
		payload, err = b.dealBundle(false)
		what = "a deal with a wrong share for station " + fmt.Sprint((b.self+1)%b.n)
	case tx.Kind == chain.TxDKGDeal && b.on["dkg-undecryptable"]:
		payload, err = b.dealBundle(true)
		what = "deals nobody can decrypt"
	case tx.Kind == chain.TxKeyAnnouncement && b.on["other-key"]:
		payload, err = b.otherKey()
		what = "the announcement of another key"
	case tx.Kind == chain.TxTallyShares && b.on["bad-shares"]:
		payload, err = badShares(tx.Payload)
		what = "decryption shares with bad proofs"
	default:
		return raw, false
	}
	if err != nil {
		b.log.Error("byzantine: cannot make "+what, "err", err)
		return raw, false
	}
	out := chain.NewSignedTx(tx.Kind, b.fp, payload, b.key).Encode()
	if b.forgedTx == nil {
		b.forgedTx = map[[32]byte][]byte{}
	}
	b.forgedTx[h] = out
	b.log.Warn("byzantine: sent " + what)
	return out, true
}

// dealBundle deals afresh with kyber's VSS under the station's DKG key: a
// share for the next station that is not on the polynomial, or (garble)
// ciphertexts that are random bytes. Either way every signature is valid.
func (b *byzantineTransport) dealBundle(garble bool) ([]byte, error) {
	suite := edwards25519.NewBlakeSHA256Ed25519()
	long, err := ballot.StationScalar(b.seed)
	if err != nil {
		return nil, err
	}
	var points []kyber.Point
	for _, k := range b.stationKeys {
		p, err := ballot.DecodePoint(k)
		if err != nil {
			return nil, err
		}
		points = append(points, p)
	}
	d, err := vss.NewDealer(suite, long, suite.Scalar().Pick(suite.RandomStream()), points, b.threshold)
	if err != nil {
		return nil, err
	}
	if !garble {
		pd, err := d.PlaintextDeal((b.self + 1) % b.n)
		if err != nil {
			return nil, err
		}
		pd.SecShare.V = suite.Scalar().Pick(suite.RandomStream())
	}
	bundle := &ballot.DealBundle{Dealer: uint32(b.self)}
	for i := range b.n {
		if i == b.self {
			continue
		}
		ed, err := d.EncryptedDeal(i)
		if err != nil {
			return nil, err
		}
		if garble {
			for k := range ed.Cipher {
				ed.Cipher[k] = byte(b.rng.Uint32())
			}
		}
		msg, err := (&dkg.Deal{Index: uint32(b.self), Deal: ed}).MarshalBinary()
		if err != nil {
			return nil, err
		}
		sig, err := schnorr.Sign(suite, long, msg)
		if err != nil {
			return nil, err
		}
		out := ballot.EncryptedDeal{Recipient: uint32(i), DHSig: ed.Signature, Nonce: ed.Nonce, Cipher: ed.Cipher, Signature: sig}
		copy(out.DHKey[:], ed.DHKey)
		bundle.Deals = append(bundle.Deals, out)
	}
	return bundle.Encode(), bundle.Check(b.n)
}

// otherKey is a well-formed announcement (n public shares on one
// polynomial of degree t−1 through the key) of a key nobody holds.
func (b *byzantineTransport) otherKey() ([]byte, error) {
	suite := edwards25519.NewBlakeSHA256Ed25519()
	pub := share.NewPriPoly(suite, b.threshold, nil, suite.RandomStream()).Commit(nil)
	ann := &ballot.KeyAnnouncement{Station: uint32(b.self), Key: ballot.EncodePoint(pub.Commit())}
	for i := range b.n {
		ann.Qualified = append(ann.Qualified, uint32(i))
		ann.PublicShares = append(ann.PublicShares, ballot.EncodePoint(pub.Eval(i).V))
	}
	return ann.Encode(), ann.Check(b.n, b.threshold)
}

// badShares replaces the response of every decryption share's proof by a
// random scalar.
func badShares(payload []byte) ([]byte, error) {
	ts, err := ballot.DecodeTallyShares(payload)
	if err != nil {
		return nil, err
	}
	suite := edwards25519.NewBlakeSHA256Ed25519()
	for c := range ts.Shares {
		for s := range ts.Shares[c] {
			ts.Shares[c][s].Proof.V = ballot.EncodeScalar(suite.Scalar().Pick(suite.RandomStream()))
		}
	}
	return ts.Encode(), nil
}

type attackAt struct {
	what string
	h, r uint64
}

func msgHeight(m bft.Message) uint64 {
	switch {
	case m.Vote != nil:
		return m.Vote.Height
	case m.Proposal != nil:
		return m.Proposal.Height
	}
	return 0
}

func encodeMsg(m bft.Message) []byte {
	out, err := bft.EncodeMessage(m)
	if err != nil {
		panic(err) // a message that decoded re-encodes
	}
	return out
}
