package api

import (
	"bytes"
	"testing"
)

// FuzzDecodeRequest: no request panics the server's decoder, and what it
// accepts is the canonical encoding of what it decoded.
func FuzzDecodeRequest(f *testing.F) {
	for _, seed := range [][]byte{
		encode(opStatus, &emptyBody{}),
		encode(opSubmit, &submitBody{Tx: []byte("tx"), Wait: true}),
		encode(opWait, &waitBody{Hash: [32]byte{1}}),
		encode(opBlocks, &blocksBody{From: 1, To: 9}),
		encode(opTracking, &trackingBody{Code: "ABCD-EFGH"}),
		encode(opEvents, &emptyBody{}),
		encode(opRoll, &emptyBody{}),
		{0x42}, {},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		r, err := decodeRequest(p)
		if err != nil {
			return
		}
		var body any
		switch r.op {
		case opStatus, opEvents, opRoll:
			body = &emptyBody{}
		case opSubmit:
			body = &r.submit
		case opWait:
			body = &r.wait
		case opBlocks:
			body = &r.blocks
		case opTracking:
			body = &r.tracking
		}
		if !bytes.Equal(encode(r.op, body), p) {
			t.Fatalf("request %x accepted but not canonical", p)
		}
	})
}

// FuzzDecodeReply: no reply panics the client's decoder.
func FuzzDecodeReply(f *testing.F) {
	for _, seed := range [][]byte{
		encode(replyError, &errorBody{Code: CodeRejected, Rule: "already-voted", Message: "m"}),
		encode(replyStatus, &Status{Turnout: []uint64{1}, Result: [][]uint64{{1, 2}}, Peers: []uint32{1}}),
		encode(replyAccepted, &Receipt{Committed: true, Height: 3}),
		encode(replyCommitted, &committedBody{Height: 4}),
		encode(replyBlock, &Block{Height: 1, Block: []byte("b"), Certificate: []byte("c")}),
		encode(replyEnd, &endBody{Head: 5}),
		encode(replyTracking, &Tracking{Status: 1}),
		encode(replyEvent, &Event{Height: 6}),
		encode(replyChunk, &chunkBody{Data: []byte("roll")}),
		{0x99},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		r, err := decodeReply(p)
		if err == nil && r.typ == replyError {
			_ = errorOf(&r.err).Error()
		}
	})
}
