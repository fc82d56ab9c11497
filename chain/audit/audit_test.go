package audit_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"github.com/urna-vote/urna/ballot"
	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/audit"
	"github.com/urna-vote/urna/chain/bft"
	"github.com/urna-vote/urna/chain/record"
)

func verify(t testing.TB, f *fixture, rec []byte) (*audit.Report, error) {
	t.Helper()
	fp := f.E.Fingerprint()
	r, err := audit.VerifyRecord(bytes.NewReader(rec), &fp, nil)
	if r == nil {
		t.Fatal("no report")
	}
	if (err == nil) != r.Verified {
		t.Fatalf("error %v but verified %v", err, r.Verified)
	}
	return r, err
}

// An untampered record verifies: every check passes with the counts of
// what the election holds, and the result is the plain choices' counts.
func TestUntamperedRecordVerifies(t *testing.T) {
	f := election(t)
	var calls int
	fp := f.E.Fingerprint()
	r, err := audit.VerifyRecord(bytes.NewReader(f.Record), &fp, func(audit.Progress) { calls++ })
	if err != nil {
		t.Fatal(err)
	}
	if !r.Verified || !r.Tallied || r.FirstFailure != nil || calls == 0 {
		t.Fatalf("verified %v tallied %v first failure %v, %d progress calls", r.Verified, r.Tallied, r.FirstFailure, calls)
	}
	blocks := uint64(len(f.C.Blocks))
	ballots := uint64(f.VotersUsed)
	want := map[string]uint64{
		audit.CheckRecord:        2 + 2*blocks + 1,
		audit.CheckGenesis:       2,
		audit.CheckLabels:        1 + 4,
		audit.CheckChainLink:     blocks,
		audit.CheckHeaders:       blocks,
		audit.CheckCertificates:  2*blocks - 1, // each block's own, and its successor's last commit
		audit.CheckKeyGeneration: 3 * 4,        // deals, responses, announcements of 4 stations
		audit.CheckApprovals:     2 + 2,
		audit.CheckEligibility:   ballots + 1,
		audit.CheckOneBallot:     ballots,
		audit.CheckCiphertexts:   4 * (ballots + 1),
		audit.CheckSelection:     4 * (ballots + 1),
		audit.CheckContest:       ballots + 1,
		audit.CheckChallenged:    1,
		audit.CheckAggregation:   ballots,
		audit.CheckTurnout:       ballots,
		audit.CheckShares:        4 * uint64(len(f.ShareHeights)),
		audit.CheckResult:        4,
		audit.CheckEquivocation:  1,
	}
	txs := uint64(0)
	for _, b := range f.C.Blocks {
		blk, _ := chain.DecodeBlock(b, 1<<24)
		txs += uint64(len(blk.Txs))
	}
	want[audit.CheckTxFormat], want[audit.CheckPhases] = txs, txs
	want[audit.CheckTxSignatures] = 3*4 + 4 + ballots + 1 + uint64(len(f.ShareHeights))
	if len(r.Checks) != len(audit.CheckNames()) {
		t.Fatalf("%d checks, want %d", len(r.Checks), len(audit.CheckNames()))
	}
	for _, c := range r.Checks {
		if !c.Passed || c.Failure != nil {
			t.Errorf("check %s failed: %v", c.Name, c.Failure)
		}
		if w, ok := want[c.Name]; ok && c.Count != w {
			t.Errorf("check %s counted %d, want %d", c.Name, c.Count, w)
		}
	}
	for ci, c := range r.Results {
		for si, cand := range c.Candidates {
			if cand.Votes != f.Want[ci][si] {
				t.Errorf("contest %s candidate %s: %d votes, the plain choices give %d", c.ID, cand.ID, cand.Votes, f.Want[ci][si])
			}
			if cand.Name == "" || cand.ID == "" {
				t.Errorf("candidate %d of %s has no label", si, c.ID)
			}
		}
	}
	if len(r.Results) != 1 || r.Counted != ballots || r.Challenged != 1 {
		t.Fatalf("%d contests, %d counted, %d challenged", len(r.Results), r.Counted, r.Challenged)
	}
	for s, st := range r.Turnout {
		if st.Ballots != f.Turnout[s] {
			t.Errorf("station %s: turnout %d, want %d", st.ID, st.Ballots, f.Turnout[s])
		}
	}
	if len(r.Evidence) != 1 || r.Evidence[0].Station != f.E.Config.Stations[1].ID || r.Evidence[0].BlockHeight != f.Evidence {
		t.Fatalf("evidence %+v", r.Evidence)
	}
}

// expectFailure checks that a tampered record fails with this check and
// rule at this height and transaction (tx < -1: any transaction).
func expectFailure(t *testing.T, f *fixture, rec []byte, check, rule string, height uint64, tx int) {
	t.Helper()
	r, err := verify(t, f, rec)
	if err == nil {
		t.Fatal("tampered record verifies")
	}
	if !errors.Is(err, audit.ErrVerification) {
		t.Fatalf("error %v is not a verification failure", err)
	}
	ff := r.FirstFailure
	if ff == nil || ff.Check != check || ff.Rule != rule || ff.Height != height || (tx >= -1 && ff.Tx != tx) {
		t.Fatalf("first failure %+v, want %s/%s at height %d tx %d", ff, check, rule, height, tx)
	}
	if c := r.Check(check); c == nil || c.Passed || c.Failure == nil {
		t.Fatalf("check %s is not marked failed: %+v", check, c)
	}
	if r.Tallied || r.Results != nil {
		t.Fatal("a failed audit reports results")
	}
}

// replaceBlock is the record with block h replaced (its certificate kept):
// what an altered record file holds.
func replaceBlock(t *testing.T, f *fixture, h uint64, data []byte) []byte {
	blocks := append([][]byte(nil), f.C.Blocks...)
	blocks[h-1] = data
	return writeRecord(t, f.E, blocks, encodeCerts(f.C.Certs), uint64(len(blocks)))
}

// withTx is block h's transactions with tx i replaced.
func withTx(t *testing.T, f *fixture, h uint64, i int, tx *chain.Tx) [][]byte {
	txs := append([][]byte(nil), f.block(t, h).Txs...)
	txs[i] = tx.Encode()
	return txs
}

// txOfKind is the index of the first transaction of this kind in block h.
func txOfKind(t *testing.T, f *fixture, h uint64, kind chain.TxKind) int {
	for i := range f.block(t, h).Txs {
		if f.tx(t, h, i).Kind == kind {
			return i
		}
	}
	t.Fatalf("no %s in block %d", kind, h)
	return 0
}

func ballotAt(t *testing.T, f *fixture, h uint64, i int) *ballot.Ballot {
	b, err := ballot.DecodeBallot(f.tx(t, h, i).Payload)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTamperedRecords(t *testing.T) {
	f := election(t)
	bh := f.BallotHeights[0]
	sh := f.ShareHeights[0]
	last := uint64(len(f.C.Blocks))
	cases := []struct {
		name        string
		rec         func(t *testing.T) []byte
		check, rule string
		height      uint64
		tx          int
	}{
		{"altered ballot byte", func(t *testing.T) []byte {
			b := ballotAt(t, f, bh, 1)
			b.Contests[0].Selections[2].Proof.Branches[0].V[0] ^= 1 // stays a canonical scalar
			blk := f.block(t, bh)
			blk.Txs[1] = chain.NewBallotTx(b).Encode()
			return replaceBlock(t, f, bh, blk.Encode())
		}, audit.CheckTxSignatures, "ballot-signature", bh, 1},
		{"swapped proof, re-signed by the voter", func(t *testing.T) []byte {
			b := ballotAt(t, f, bh, 2)
			sels := b.Contests[0].Selections
			sels[0].Proof, sels[1].Proof = sels[1].Proof, sels[0].Proof
			copy(b.Signature[:], f.E.Credential(2).Sign(b.SigningBytes()))
			return f.resigned(t, bh, withTx(t, f, bh, 2, chain.NewBallotTx(b)))
		}, audit.CheckSelection, "selection-proof", bh, 2},
		{"forged station signature", func(t *testing.T) []byte {
			tx := f.tx(t, sh, 0)
			tx.Signature[5] ^= 0x10
			return f.resigned(t, sh, withTx(t, f, sh, 0, tx))
		}, audit.CheckTxSignatures, "bad-signature", sh, 0},
		{"duplicate credential", func(t *testing.T) []byte {
			m := f.E.Genesis.Manifest()
			c := f.prefix(t, bh-1)
			b, _ := c.Ballot(t, 0, 3, firstChoices(&m))
			txs := append(f.block(t, bh).Txs, chain.NewBallotTx(b).Encode())
			return f.resigned(t, bh, txs)
		}, audit.CheckOneBallot, "already-voted", bh, 4},
		{"copied ciphertext", func(t *testing.T) []byte {
			h := f.BallotHeights[1]
			m := f.E.Genesis.Manifest()
			c := f.prefix(t, h-1)
			v := fixtureVoters - 1 // an unused credential
			b, _ := c.Ballot(t, v, 0, firstChoices(&m))
			b.Contests[0].Selections[1].Ciphertext = ballotAt(t, f, bh, 0).Contests[0].Selections[1].Ciphertext
			copy(b.Signature[:], f.E.Credential(v).Sign(b.SigningBytes()))
			txs := f.block(t, h).Txs
			return f.resigned(t, h, append(txs, chain.NewBallotTx(b).Encode()))
		}, audit.CheckCiphertexts, "ciphertext-reused", f.BallotHeights[1], len(f.block(t, f.BallotHeights[1]).Txs)},
		{"forged ballot signature, re-certified", func(t *testing.T) []byte {
			b := ballotAt(t, f, bh, 3)
			b.Signature[40] ^= 0x01
			return f.resigned(t, bh, withTx(t, f, bh, 3, chain.NewBallotTx(b)))
		}, audit.CheckTxSignatures, "ballot-signature", bh, 3},
		{"challenged ballot opened to other marks, re-certified", func(t *testing.T) []byte {
			h := f.Spoiled.Height
			i := txOfKind(t, f, h, chain.TxSpoiled)
			sp, err := ballot.DecodeSpoiledBallot(f.tx(t, h, i).Payload)
			if err != nil {
				t.Fatal(err)
			}
			sp.Marks[0][0], sp.Marks[0][1] = sp.Marks[0][1], sp.Marks[0][0]
			if sp.Marks[0][0] == sp.Marks[0][1] {
				sp.Marks[0][0] ^= 1
			}
			return f.resigned(t, h, withTx(t, f, h, i, chain.NewSpoiledTx(sp)))
		}, audit.CheckChallenged, "opening", f.Spoiled.Height, -2},
		{"cast ballot challenged afterwards, re-certified", func(t *testing.T) []byte {
			c := f.prefix(t, bh-1)
			el, _ := f.E.Machine.Election(c.State)
			m := f.E.Genesis.Manifest()
			ch := firstChoices(&m)
			b, nonces := c.Ballot(t, fixtureVoters-2, 1, ch)
			sp, err := el.Spoil(b, ch, nonces)
			if err != nil {
				t.Fatal(err)
			}
			txs := append(f.block(t, bh).Txs, chain.NewBallotTx(b).Encode(), chain.NewSpoiledTx(sp).Encode())
			return f.resigned(t, bh, txs)
		}, audit.CheckChallenged, "ballot-cast", bh, 5},
		{"ballot of a credential not on the roll, re-certified", func(t *testing.T) []byte {
			c := f.prefix(t, bh-1)
			el, _ := f.E.Machine.Election(c.State)
			m := f.E.Genesis.Manifest()
			code, _ := ballot.NewVotingCode(nil)
			b, _, err := el.NewBallot(ballot.DeriveCredential(f.E.Genesis.ElectionID(), code), f.E.Config.Stations[0].ID, firstChoices(&m), nil)
			if err != nil {
				t.Fatal(err)
			}
			return f.resigned(t, bh, append(f.block(t, bh).Txs, chain.NewBallotTx(b).Encode()))
		}, audit.CheckEligibility, "ineligible", bh, 4},
		{"ballot after the polls closed, re-certified", func(t *testing.T) []byte {
			h := f.BallotHeights[2] + 1 // the close approvals
			c := f.prefix(t, h-1)
			m := f.E.Genesis.Manifest()
			b, _ := c.Ballot(t, fixtureVoters-3, 0, firstChoices(&m))
			return f.resigned(t, h, append(f.block(t, h).Txs, chain.NewBallotTx(b).Encode()))
		}, audit.CheckPhases, "wrong-phase", f.BallotHeights[2] + 1, len(f.block(t, f.BallotHeights[2]+1).Txs)},
		{"approval by someone who is not an official, re-certified", func(t *testing.T) []byte {
			h := bh - 1 // the open approvals
			_, key, _ := ed25519.GenerateKey(nil)
			return f.resigned(t, h, append(f.block(t, h).Txs, chain.NewApprovalTx(f.E.Fingerprint(), chain.ActionClose, key).Encode()))
		}, audit.CheckTxSignatures, "not-official", bh - 1, len(f.block(t, bh-1).Txs)},
		{"removed block", func(t *testing.T) []byte {
			blocks := append(append([][]byte(nil), f.C.Blocks[:bh-1]...), f.C.Blocks[bh:]...)
			certs := encodeCerts(f.C.Certs)
			certs = append(certs[:bh-1], certs[bh:]...)
			return writeRecord(t, f.E, blocks, certs, last-1)
		}, audit.CheckChainLink, "wrong-height", bh, -1},
		{"reordered blocks", func(t *testing.T) []byte {
			blocks := append([][]byte(nil), f.C.Blocks...)
			certs := encodeCerts(f.C.Certs)
			blocks[bh-1], blocks[bh] = blocks[bh], blocks[bh-1]
			certs[bh-1], certs[bh] = certs[bh], certs[bh-1]
			return writeRecord(t, f.E, blocks, certs, last)
		}, audit.CheckChainLink, "wrong-height", bh, -1},
		{"certificate with too few signers", func(t *testing.T) []byte {
			certs := encodeCerts(f.C.Certs)
			certs[bh-1] = bft.EncodeCertificate(f.E.Certify(bh, [32]byte(f.C.Certs[bh-1].BlockHash), 0, 2))
			return writeRecord(t, f.E, f.C.Blocks, certs, last)
		}, audit.CheckCertificates, "too-few-signers", bh, -1},
		{"certificate with a duplicate signer", func(t *testing.T) []byte {
			certs := encodeCerts(f.C.Certs)
			c := f.E.Certify(bh, [32]byte(f.C.Certs[bh-1].BlockHash), 0, 2)
			c.Signatures = append(c.Signatures, c.Signatures[1])
			certs[bh-1] = bft.EncodeCertificate(c)
			return writeRecord(t, f.E, f.C.Blocks, certs, last)
		}, audit.CheckCertificates, "duplicate-signer", bh, -1},
		{"certificate of the last block forged", func(t *testing.T) []byte {
			certs := encodeCerts(f.C.Certs)
			c := f.E.Certify(last, [32]byte(f.C.Certs[last-1].BlockHash))
			c.Signatures[3].Signature[0] ^= 1
			certs[last-1] = bft.EncodeCertificate(c)
			return writeRecord(t, f.E, f.C.Blocks, certs, last)
		}, audit.CheckCertificates, "bad-signature", last, -1},
		{"altered decryption share, re-signed by the station", func(t *testing.T) []byte {
			tx := f.tx(t, sh, 0)
			ts, err := ballot.DecodeTallyShares(tx.Payload)
			if err != nil {
				t.Fatal(err)
			}
			ts.Shares[0][0].D, ts.Shares[0][1].D = ts.Shares[0][1].D, ts.Shares[0][0].D
			return f.resigned(t, sh, [][]byte{chain.NewSignedTx(chain.TxTallyShares, f.E.Fingerprint(), ts.Encode(), f.E.StationKey(0)).Encode()})
		}, audit.CheckShares, "bad-shares", sh, 0},
		{"altered state hash, re-certified", func(t *testing.T) []byte {
			return f.resignedWith(t, bh, f.block(t, bh).Txs, func(b *chain.Block) { b.Header.StateHash[0] ^= 1 })
		}, audit.CheckHeaders, "state-hash", bh, -1},
		{"altered genesis", func(t *testing.T) []byte {
			rec := bytes.Clone(f.Record)
			i := len(record.Header) + 5 + 40 // inside the genesis frame
			rec[i] ^= 0x01
			return rec
		}, audit.CheckGenesis, "", 0, -1},
		{"end frame lies", func(t *testing.T) []byte {
			return writeRecord(t, f.E, f.C.Blocks, encodeCerts(f.C.Certs), last+1)
		}, audit.CheckRecord, "end-frame", 0, -1},
		{"record cut short", func(t *testing.T) []byte {
			return f.Record[:len(f.Record)-100]
		}, audit.CheckRecord, "framing", last, -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := tc.rec(t)
			if tc.check == audit.CheckGenesis {
				r, err := verify(t, f, rec)
				if err == nil || r.FirstFailure == nil || r.FirstFailure.Check != audit.CheckGenesis {
					t.Fatalf("altered genesis: %v", err)
				}
				return
			}
			expectFailure(t, f, rec, tc.check, tc.rule, tc.height, tc.tx)
		})
	}
}

func firstChoices(m *ballot.Manifest) ballot.Choices {
	ch := make(ballot.Choices, len(m.Contests))
	for ci, c := range m.Contests {
		ch[ci] = make([]bool, len(c.Candidates))
		ch[ci][0] = true
	}
	return ch
}

// A genesis other than the one the observer holds: the fingerprint check.
func TestOtherGenesis(t *testing.T) {
	f := election(t)
	other := sha256.Sum256([]byte("another election"))
	r, err := audit.VerifyRecord(bytes.NewReader(f.Record), &other, nil)
	if err == nil || r.FirstFailure.Check != audit.CheckGenesis || r.FirstFailure.Rule != "fingerprint" {
		t.Fatalf("other fingerprint: %v", err)
	}
}

// A result published elsewhere (a station's status) that differs from the
// verified one fails the result check and names the source.
func TestAlteredPublishedResult(t *testing.T) {
	f := election(t)
	a, err := audit.New(f.E.Genesis.Encode(), f.E.Roll.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for h := range f.C.Blocks {
		if err := a.Block(f.C.Blocks[h], bft.EncodeCertificate(f.C.Certs[h])); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.CheckPublished("station north", f.C.State.Result); err != nil {
		t.Fatalf("the true result: %v", err)
	}
	// Block by block (no read-ahead), the report is the whole record's.
	byBlock := a.Report()
	whole, err := verify(t, f, f.Record)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range byBlock.Checks {
		if c.Name != audit.CheckRecord && c != whole.Checks[i] {
			t.Fatalf("check %s: block by block %+v, whole record %+v", c.Name, c, whole.Checks[i])
		}
	}
	if !byBlock.Tallied || byBlock.Height != whole.Height || len(byBlock.Results) != len(whole.Results) {
		t.Fatal("the block-by-block audit ends elsewhere than the record's")
	}
	altered := [][]uint64{append([]uint64(nil), f.C.State.Result[0]...)}
	altered[0][0]++
	err = a.CheckPublished("station north", altered)
	var ff *audit.Failure
	if !errors.As(err, &ff) || ff.Check != audit.CheckResult || ff.Rule != "published-counts" {
		t.Fatalf("altered result: %v", err)
	}
	if r := a.Report(); r.Verified || r.Check(audit.CheckResult).Passed {
		t.Fatal("the report does not show the failed result")
	}
}

// Flipping any single byte of the record is detected: the record holds no
// byte that no hash or signature covers. URNA_AUDIT_FLIPS sets how many
// seeded positions (default 300).
func TestEveryByteFlipDetected(t *testing.T) {
	f := election(t)
	n := 300
	if testing.Short() {
		n = 20
	}
	if s := os.Getenv("URNA_AUDIT_FLIPS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	r := rand.New(rand.NewPCG(11, 12))
	for k := range n {
		i := r.IntN(len(f.Record))
		bit := byte(1) << r.IntN(8)
		bad := bytes.Clone(f.Record)
		bad[i] ^= bit
		rep, err := verify(t, f, bad)
		if err == nil {
			t.Fatalf("flip %d: bit %#x of byte %d changed, the record still verifies", k, bit, i)
		}
		if rep.FirstFailure == nil || rep.FirstFailure.Check == "" || rep.FirstFailure.Rule == "" {
			t.Fatalf("flip %d at byte %d: failure without a check and rule: %+v", k, i, rep.FirstFailure)
		}
	}
}

// FuzzVerifyRecord: no input makes the audit panic, and every failure
// names its check and rule. (The fixture is rebuilt, with other random
// nonces, in each fuzzing process, so the inputs are not compared with it.)
func FuzzVerifyRecord(f *testing.F) {
	fx := election(f)
	f.Add(fx.Record)
	f.Add(fx.Record[:200])
	f.Add([]byte(record.Header))
	fp := fx.E.Fingerprint()
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := audit.VerifyRecord(bytes.NewReader(data), &fp, nil)
		if r == nil || (err == nil) != r.Verified {
			t.Fatalf("report %v, error %v", r, err)
		}
		if err != nil && (r.FirstFailure == nil || r.FirstFailure.Check == "" || r.FirstFailure.Rule == "") {
			t.Fatalf("failure without a check and rule: %v", err)
		}
	})
}
