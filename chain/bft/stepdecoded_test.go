package bft_test

import (
	"bytes"
	"testing"

	"github.com/urna-vote/urna/chain/bft"
)

// walHost records what a driver logs and does nothing else.
type walHost struct{ records [][]byte }

func (h *walHost) AppendWAL(records [][]byte) error {
	h.records = append(h.records, records...)
	return nil
}
func (h *walHost) SyncWAL() error            { return nil }
func (h *walHost) StartSegment(uint64) error { return nil }
func (h *walHost) Apply(bft.Decision) error  { return nil }
func (h *walHost) Send(bft.Message)          {}
func (h *walHost) Rest(bft.Ready) error      { return nil }

// TestStepDecodedLogsWhatStepLogs: a proposal stepped with the bytes it was
// decoded from is logged exactly as Step logs it (Step encodes it again),
// with whatever else the step logs.
func TestStepDecodedLogsWhatStepLogs(t *testing.T) {
	privs, vals := testKeys("stepdecoded", 4)
	run := func(decoded bool) [][]byte {
		signer := &guardSigner{priv: privs[1], state: &signerState{}}
		c, err := bft.New(bft.Config{ChainID: testChainID, Validators: vals, Self: 1, Height: 1,
			Timeouts: testTimeouts(), Signer: signer.Signer(), Validate: testValidate})
		if err != nil {
			t.Fatal(err)
		}
		h := &walHost{}
		d := bft.NewDriver(c, h, nil)
		if err := d.Recover(nil, nil); err != nil {
			t.Fatal(err)
		}
		prop := signProposal(privs[0], 1, 0, -1, testBlock(1, "x"), 0)
		data, err := bft.EncodeMessage(bft.Message{Proposal: prop})
		if err != nil {
			t.Fatal(err)
		}
		m, err := bft.DecodeMessage(data)
		if err != nil {
			t.Fatal(err)
		}
		if decoded {
			err = d.StepDecoded(m, data)
		} else {
			err = d.Step(m)
		}
		if err != nil {
			t.Fatal(err)
		}
		return h.records
	}
	want, got := run(false), run(true)
	if len(want) == 0 {
		t.Fatal("Step logged nothing; the test means the proposal's record")
	}
	if len(got) != len(want) {
		t.Fatalf("StepDecoded logged %d records, Step %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("record %d differs", i)
		}
	}
}
