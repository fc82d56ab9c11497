package bft_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/urna-vote/urna/chain/bft"
)

// sampleInputs returns one valid input of each kind.
func sampleInputs() []bft.Input {
	privs, _ := testKeys("codec", 4)
	block := testBlock(2, "A")
	h := bft.HashValue(block)
	cert := bft.Certificate{Height: 2, Round: 1, BlockHash: h}
	for i := range 3 {
		cert.Signatures = append(cert.Signatures, bft.CommitSig{Validator: uint32(i), Signature: signVote(privs[i], bft.Precommit, 2, 1, h, uint32(i)).Signature})
	}
	return []bft.Input{
		bft.Message{Vote: signVote(privs[1], bft.Prevote, 2, 0, h, 1)},
		bft.Message{Vote: signVote(privs[2], bft.Precommit, 2, 3, bft.Hash{}, 2)},
		bft.Message{Proposal: signProposal(privs[3], 2, 1, -1, block, 3)},
		bft.Message{Proposal: signProposal(privs[0], 2, 2, 1, []byte{}, 0)},
		bft.Message{Decision: &bft.Decision{Height: 2, Block: block, Certificate: cert}},
		bft.Timeout{Height: 2, Round: 4, Step: bft.StepPrevote, Duration: 1500 * time.Millisecond},
		bft.ProposalValue{Height: 9, Round: 0, Block: block},
		bft.WorkReady{Height: 3},
		bft.PeerHeight{Validator: 2, Height: 77},
	}
}

func TestCodecRoundTrip(t *testing.T) {
	for _, in := range sampleInputs() {
		data, err := bft.EncodeInput(in)
		if err != nil {
			t.Fatalf("%T: %v", in, err)
		}
		back, err := bft.DecodeInput(data)
		if err != nil {
			t.Fatalf("%T: %v", in, err)
		}
		again, _ := bft.EncodeInput(back)
		if !bytes.Equal(data, again) {
			t.Fatalf("%T: round trip changed the bytes", in)
		}
		if m, ok := in.(bft.Message); ok {
			mb, err := bft.EncodeMessage(m)
			if err != nil || !bytes.Equal(mb, data) {
				t.Fatalf("EncodeMessage differs from EncodeInput: %v", err)
			}
			if _, err := bft.DecodeMessage(data); err != nil {
				t.Fatalf("DecodeMessage: %v", err)
			}
		} else if _, err := bft.DecodeMessage(data); !errors.Is(err, bft.ErrMalformed) {
			t.Fatalf("DecodeMessage accepted a local input %T: %v", in, err)
		}
	}
}

// TestDecodeRejects checks the strictness of the decoder, each case with its sentinel.
func TestDecodeRejects(t *testing.T) {
	vote, _ := bft.EncodeInput(sampleInputs()[0])
	em, _ := cbor.CoreDetEncOptions().EncMode()
	enc := func(v any) []byte {
		b, err := em.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// env builds an envelope [kind, body] with body embedded as a CBOR item.
	env := func(kind uint8, body any) []byte { return enc([]any{kind, cbor.RawMessage(enc(body))}) }
	privs, _ := testKeys("codec", 4)
	v := signVote(privs[1], bft.Prevote, 2, 0, bft.Hash{1}, 1)
	voteBody := []any{uint8(v.Type), v.Height, v.Round, v.BlockHash[:], v.Validator, v.Signature}
	if m, err := bft.DecodeMessage(env(2, voteBody)); err != nil || m.Vote == nil || m.Vote.BlockHash != v.BlockHash {
		t.Fatalf("the test's own encoding of a valid vote does not decode: %v", err)
	}
	cases := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, bft.ErrMalformed},
		{"trailing byte", append(bytes.Clone(vote), 0), bft.ErrMalformed},
		{"truncated", vote[:len(vote)-1], bft.ErrMalformed},
		{"unknown kind", env(9, voteBody), bft.ErrMalformed},
		{"local kind on the network", env(18, []any{uint64(1)}), bft.ErrMalformed},
		{"extra field", env(2, append(voteBody, 1)), bft.ErrMalformed},
		{"missing field", env(2, voteBody[:5]), bft.ErrMalformed},
		{"map instead of array", env(2, map[string]any{"Type": 1}), bft.ErrMalformed},
		{"short hash", env(2, []any{uint8(1), uint64(2), uint32(0), v.BlockHash[:31], uint32(1), v.Signature}), bft.ErrMalformed},
		{"bad vote type", env(2, []any{uint8(3), uint64(2), uint32(0), v.BlockHash[:], uint32(1), v.Signature}), bft.ErrInvalidField},
		{"short signature", env(2, []any{uint8(1), uint64(2), uint32(0), v.BlockHash[:], uint32(1), v.Signature[:63]}), bft.ErrInvalidField},
		{"round too high", env(2, []any{uint8(1), uint64(2), uint32(1 << 31), v.BlockHash[:], uint32(1), v.Signature}), bft.ErrInvalidField},
		{"negative height", env(2, []any{uint8(1), int64(-2), uint32(0), v.BlockHash[:], uint32(1), v.Signature}), bft.ErrMalformed},
		{"non-canonical integer", append([]byte{0x82, 0x18, 0x02}, vote[2:]...), bft.ErrMalformed},
		{"tag", append([]byte{0xc1}, vote...), bft.ErrMalformed},
		{"indefinite array", append([]byte{0x9f}, append(bytes.Clone(vote[1:]), 0xff)...), bft.ErrMalformed},
		{"too large", make([]byte, bft.MaxMessageBytes+1), bft.ErrTooLarge},
	}
	for _, tc := range cases {
		if _, err := bft.DecodeMessage(tc.data); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := bft.DecodeCertificate(enc([]any{uint64(1), uint32(0), make([]byte, 32), []any{[]any{uint32(0), make([]byte, 64)}}, 5})); !errors.Is(err, bft.ErrMalformed) {
		t.Errorf("certificate with an extra field: %v", err)
	}
	if _, err := bft.DecodeEvidence([]byte{0x80}); !errors.Is(err, bft.ErrMalformed) {
		t.Errorf("empty evidence: %v", err)
	}
	if _, err := bft.EncodeMessage(bft.Message{}); !errors.Is(err, bft.ErrInvalidField) {
		t.Errorf("encoding an empty message: %v", err)
	}
}

func TestCertificateAndEvidenceCodec(t *testing.T) {
	d := sampleInputs()[4].(bft.Message).Decision
	b := bft.EncodeCertificate(&d.Certificate)
	c, err := bft.DecodeCertificate(b)
	if err != nil || !bytes.Equal(bft.EncodeCertificate(&c), b) {
		t.Fatalf("certificate round trip: %v", err)
	}
	privs, _ := testKeys("codec", 4)
	e := bft.Evidence{A: *signVote(privs[1], bft.Prevote, 3, 0, bft.Hash{}, 1), B: *signVote(privs[1], bft.Prevote, 3, 0, bft.Hash{2}, 1)}
	eb := bft.EncodeEvidence(&e)
	e2, err := bft.DecodeEvidence(eb)
	if err != nil || !bytes.Equal(bft.EncodeEvidence(&e2), eb) {
		t.Fatalf("evidence round trip: %v", err)
	}
}

// FuzzDecodeMessage: no input makes the decoders panic, and whatever decodes is
// canonical: re-encoding gives the same bytes.
func FuzzDecodeMessage(f *testing.F) {
	for _, in := range sampleInputs() {
		data, err := bft.EncodeInput(in)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		f.Add(data[:len(data)/2])
	}
	f.Add([]byte{})
	f.Add([]byte{0x82, 0x02, 0xf6})
	f.Add([]byte{0x9f, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		if m, err := bft.DecodeMessage(data); err == nil {
			again, err := bft.EncodeMessage(m)
			if err != nil || !bytes.Equal(again, data) {
				t.Fatalf("decoded message does not re-encode to its bytes: %v", err)
			}
		}
		if in, err := bft.DecodeInput(data); err == nil {
			again, err := bft.EncodeInput(in)
			if err != nil || !bytes.Equal(again, data) {
				t.Fatalf("decoded input does not re-encode to its bytes: %v", err)
			}
		}
		if c, err := bft.DecodeCertificate(data); err == nil && !bytes.Equal(bft.EncodeCertificate(&c), data) {
			t.Fatal("certificate not canonical")
		}
		if e, err := bft.DecodeEvidence(data); err == nil && !bytes.Equal(bft.EncodeEvidence(&e), data) {
			t.Fatal("evidence not canonical")
		}
	})
}

// FuzzCoreStep feeds arbitrary decoded messages to a core: nothing panics.
func FuzzCoreStep(f *testing.F) {
	for _, in := range sampleInputs() {
		data, _ := bft.EncodeInput(in)
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := bft.DecodeInput(data)
		if err != nil {
			return
		}
		c, _, _ := newTestCore(t, 2, nil)
		c.Step(in)
		c.Step(in)
	})
}
