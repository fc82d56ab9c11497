package record

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/urna-vote/urna/ballot"
	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/bft"
	"github.com/urna-vote/urna/chain/genesis"
	"github.com/urna-vote/urna/chain/ledger"
	"github.com/urna-vote/urna/chain/store"
)

// Errors of replay.
var (
	ErrFingerprint = errors.New("record is for another election than the expected genesis")
	ErrRoll        = errors.New("record's voter roll does not match its genesis")
	ErrBlock       = errors.New("record holds an invalid block")
	ErrCertificate = errors.New("record holds an invalid certificate")
	ErrEnd         = errors.New("record's end frame does not match its blocks")
)

// Export writes the whole chain of a ledger as a record.
func Export(w io.Writer, l *ledger.Ledger, roll []byte) (uint64, error) {
	rw := NewWriter(w)
	if err := rw.Frame(KindGenesis, l.Genesis().Encode()); err != nil {
		return 0, err
	}
	if err := rw.Frame(KindRoll, roll); err != nil {
		return 0, err
	}
	head := l.Height()
	for h := uint64(1); h <= head; h++ {
		b, err := l.Block(h)
		if err != nil {
			return 0, fmt.Errorf("record: block %d: %w", h, err)
		}
		c, err := l.Store().Certificate(h)
		if err != nil {
			return 0, fmt.Errorf("record: certificate %d: %w", h, err)
		}
		if err := rw.Frame(KindBlock, b); err != nil {
			return 0, err
		}
		if err := rw.Frame(KindCertificate, c); err != nil {
			return 0, err
		}
	}
	return head, rw.End(head)
}

// Verified is what a replay established.
type Verified struct {
	Genesis *genesis.Genesis
	Roll    *ballot.Roll
	Machine *chain.Machine
	State   *chain.State
}

// Sink keeps what Replay verifies: Start is called once the genesis and roll
// are read, then Commit for each verified block in order, and Reader gives
// the state's key/value data so far. The default (nil) keeps it in memory.
type Sink interface {
	Start(m *chain.Machine) error
	Reader() chain.Reader
	Commit(a *chain.Applied, block []byte, cert *bft.Certificate) error
}

// Replay reads a record and verifies all of it: the genesis (canonical, and
// the expected fingerprint when expect is not nil), the roll against the
// genesis, every block through the state machine, every certificate
// against its block, and the end frame. It returns the final state.
func Replay(r io.Reader, expect *[32]byte, sink Sink) (*Verified, error) {
	rd, err := NewReader(r)
	if err != nil {
		return nil, err
	}
	gb, err := rd.Next(KindGenesis)
	if err != nil {
		return nil, err
	}
	g, err := genesis.Decode(gb)
	if err != nil {
		return nil, fmt.Errorf("record genesis: %w", err)
	}
	if expect != nil && g.Fingerprint() != *expect {
		return nil, fmt.Errorf("%w: record %x…, expected %x…", ErrFingerprint, g.Fingerprint(), expect[:])
	}
	rb, err := rd.Next(KindRoll)
	if err != nil {
		return nil, err
	}
	roll, err := ballot.DecodeRoll(rb)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRoll, err)
	}
	m, err := chain.NewMachine(g, roll)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRoll, err)
	}
	if sink == nil {
		sink = &memSink{kv: chain.NewMemKV()}
	}
	if err := sink.Start(m); err != nil {
		return nil, err
	}
	st := m.InitialState()
	fp := bft.Hash(g.Fingerprint())
	ahead := &readAhead{rd: rd}
	for {
		if len(ahead.blocks) == 0 {
			if !ahead.fill() {
				break
			}
			// Check the ballots of the blocks read ahead in one batch over
			// every core; Apply then finds them verified.
			m.PreverifyBlocks(st, ahead.blocks)
		}
		block, cb := ahead.blocks[0], ahead.certs[0]
		ahead.blocks, ahead.certs = ahead.blocks[1:], ahead.certs[1:]
		a, err := m.Apply(st, sink.Reader(), block)
		if err != nil {
			return nil, fmt.Errorf("%w: height %d: %w", ErrBlock, st.Height+1, err)
		}
		if cb == nil {
			return nil, ahead.err // the certificate frame could not be read
		}
		cert, err := bft.DecodeCertificate(cb)
		if err != nil {
			return nil, fmt.Errorf("%w: height %d: %w", ErrCertificate, a.State.Height, err)
		}
		if cert.Height != a.State.Height || [32]byte(cert.BlockHash) != a.Hash {
			return nil, fmt.Errorf("%w: height %d: certifies height %d %x…", ErrCertificate, a.State.Height, cert.Height, cert.BlockHash[:4])
		}
		if err := cert.Verify(fp, m.Validators()); err != nil {
			return nil, fmt.Errorf("%w: height %d: %w", ErrCertificate, a.State.Height, err)
		}
		if err := sink.Commit(a, block, &cert); err != nil {
			return nil, err
		}
		st = a.State
	}
	if ahead.err != nil {
		return nil, ahead.err
	}
	end, err := rd.Next(KindEnd)
	if err != nil {
		return nil, err
	}
	if len(end) != 8 || binary.BigEndian.Uint64(end) != st.Height {
		return nil, fmt.Errorf("%w: end frame says %x, the record has %d blocks", ErrEnd, end, st.Height)
	}
	if !rd.AtEOF() {
		return nil, fmt.Errorf("%w: bytes after the end frame at byte %d", ErrFormat, rd.Offset())
	}
	return &Verified{Genesis: g, Roll: roll, Machine: m, State: st}, nil
}

// readAhead reads (block, certificate) frame pairs ahead of the replay, so
// that their ballots are verified in one batch (chain.Machine.PreverifyBlocks).
// A read error is kept until the blocks before it have been replayed, so a
// replay reports the first fault of the record whether or not it read ahead.
type readAhead struct {
	rd            *Reader
	blocks, certs [][]byte
	err           error
	done          bool
}

// Read-ahead bounds: enough ballots to fill every core, few enough that the
// machine's verified-ballot cache holds them until they are applied.
const (
	aheadBlocks = 64
	aheadBytes  = 16 << 20
)

// fill reads the next frames up to the bounds; false when there are no more
// blocks (the end frame is next, or an error was met).
func (r *readAhead) fill() bool {
	size := 0
	for !r.done && len(r.blocks) < aheadBlocks && size < aheadBytes {
		kind, err := r.rd.Peek()
		if err != nil {
			r.err, r.done = err, true
			break
		}
		if kind == KindEnd {
			r.done = true
			break
		}
		block, err := r.rd.Next(KindBlock)
		if err != nil {
			r.err, r.done = err, true
			break
		}
		cert, err := r.rd.Next(KindCertificate)
		if err != nil {
			// The block is replayed first: its own fault comes before this one.
			r.blocks, r.certs = append(r.blocks, block), append(r.certs, nil)
			r.err, r.done = err, true
			break
		}
		r.blocks, r.certs = append(r.blocks, block), append(r.certs, cert)
		size += len(block)
	}
	return len(r.blocks) > 0
}

type memSink struct{ kv *chain.MemKV }

func (s *memSink) Start(*chain.Machine) error { return nil }
func (s *memSink) Reader() chain.Reader       { return s.kv }
func (s *memSink) Commit(a *chain.Applied, _ []byte, _ *bft.Certificate) error {
	s.kv.Write(a.Writes)
	return nil
}

// Import replays a record into an empty store and binds the store to the
// record's election (see ledger.Open), so a node can start from it.
func Import(r io.Reader, s *store.Store, expect *[32]byte) (*Verified, error) {
	if h, err := s.Head(); err != nil {
		return nil, err
	} else if h.Height != 0 {
		return nil, fmt.Errorf("record: import needs an empty store, this one is at height %d", h.Height)
	}
	// The ledger is bound to the record's genesis once it is read.
	var sink ledgerSink
	sink.open = func(m *chain.Machine) (*ledger.Ledger, error) { return ledger.Open(s, m) }
	return Replay(r, expect, &sink)
}

// ledgerSink commits every verified block through a ledger, opened lazily
// since the machine is known only once the genesis is read.
type ledgerSink struct {
	open func(*chain.Machine) (*ledger.Ledger, error)
	l    *ledger.Ledger
}

func (s *ledgerSink) Start(m *chain.Machine) error {
	l, err := s.open(m)
	s.l = l
	return err
}

func (s *ledgerSink) Reader() chain.Reader { return s.l.Reader() }
func (s *ledgerSink) Commit(a *chain.Applied, block []byte, cert *bft.Certificate) error {
	return s.l.CommitApplied(a, block, cert)
}
