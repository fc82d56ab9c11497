package bft

import "fmt"

// Host is the world around a Driver: the write-ahead log, the chain's store and the
// network. The station engine implements it on disk and QUIC; the simulator in memory.
// Both run the same Driver, so the simulator tests the order the station runs.
type Host interface {
	// AppendWAL appends records to the current WAL segment, in order, as one group
	// (wal.Log.Append): a flush never makes part of a group durable without the rest.
	// Nothing is durable before SyncWAL.
	AppendWAL(records [][]byte) error
	// SyncWAL makes everything appended durable (flush and fsync).
	SyncWAL() error
	// StartSegment makes height's WAL segment the current one (wal.Log.StartHeight):
	// the records logged from now on are replayed when the store is below height.
	StartSegment(height uint64) error
	// Apply applies a decided block and stores it durably, with its certificate, before
	// it returns.
	Apply(d Decision) error
	// Send hands one of our messages to the network (best effort, never blocking).
	Send(m Message)
	// Rest carries out what remains of a Ready once it is persisted, sent and applied:
	// Timers, NeedProposal, Evidence, Sync and Dropped. During Recover (Driver.Replaying)
	// nothing may be sent or asked of peers; timers may be set.
	Rest(rd Ready) error
}

// Crash points: where a Driver asks its crash hook (tests only) whether the node dies.
// Between two points the driver holds nothing that a crash could lose other than what
// the WAL has not synced.
const (
	PointAppended    = "after-wal-append"    // the Ready is appended to the WAL, not synced
	PointSynced      = "after-wal-sync"      // the WAL is synced, nothing sent yet
	PointSent        = "after-send"          // the messages left; the decision not applied
	PointBeforeApply = "before-store-commit" // about to apply a decision
	PointApplied     = "after-store-commit"  // the store holds it; the next segment not started
	PointReplay      = "in-replay"           // Recover: a replayed record's outputs appended, not synced
	PointReplayed    = "after-replay"        // Recover: everything synced, nothing sent yet
)

// WALRecord is one record read back from the WAL: the segment (the core's height
// when it was logged) and the bytes (EncodeInput).
type WALRecord struct {
	Segment uint64
	Data    []byte
}

// Driver runs a Core in the one order that keeps a node from ever contradicting what
// it sent, across crashes:
//
//  1. Persist: the input, then Ready.Buffered, then Ready.Messages (our own signed
//     messages) are appended to the WAL as one group; if the Ready has messages, the
//     WAL is synced before any of them leaves (the signer has already fsynced its own
//     state before releasing each signature).
//  2. Send the messages.
//  3. Apply a decision: the store commits the block, the WAL's next segment starts,
//     and the core's Advance is handled the same way (Validate of the next height
//     needs the applied state).
//  4. The rest (Host.Rest): timers, proposal requests, evidence, sync requests.
//
// Recover replays the WAL into a fresh core with the same order, except that nothing
// is sent: what the replay produces that the log lacks (our votes signed anew, the
// messages that take effect at a new height) is appended, and synced before Resume
// sends anything. A message of ours leaves the node only once it is durable in the
// WAL, during a replay as well as in normal running.
//
// A Driver is not safe for concurrent use; one event loop owns it. Host callbacks may
// call Step again (e.g. Rest answering NeedProposal with a ProposalValue).
type Driver struct {
	core  *Core
	host  Host
	crash func(point string) error
	err   error // sticky: a crash, an abort or a host failure

	replaying bool
	inLog     map[string]bool // during Recover: records already in the current segment
	held      []Message       // during Recover: messages new to the log, sent by Resume

	observe func(call string, in Input, rd Ready) // tests only: every core call, as it returns
}

// NewDriver returns a driver for core. crash, if not nil (tests only), is asked at each
// crash point; a non-nil error stops the driver there, as if the process died: the
// call returns that error and so does every later call.
func NewDriver(core *Core, host Host, crash func(point string) error) *Driver {
	return &Driver{core: core, host: host, crash: crash}
}

// Core is the driven core, for queries (State, LatestVotes, Behind, ...). Feed it only
// through the Driver.
func (d *Driver) Core() *Core { return d.core }

// Replaying reports whether Recover is running (for Host.Rest).
func (d *Driver) Replaying() bool { return d.replaying }

// Err is the error that stopped the driver, or nil.
func (d *Driver) Err() error { return d.err }

// Abort stops the driver with err (e.g. a crash point inside a Signer or Validate
// callback): the call in progress returns err as soon as the core returns, before
// anything of its Ready is carried out, and so does every later call.
func (d *Driver) Abort(err error) {
	if d.err == nil {
		d.err = err
	}
}

// Step logs one input, feeds it to the core and carries out the Ready. An input that
// cannot be encoded (so could not be replayed) is ignored: DecodeInput produced every
// input a peer can send, and the node's own inputs always encode.
func (d *Driver) Step(in Input) error {
	if d.err != nil {
		return d.err
	}
	rec, err := EncodeInput(in)
	if err != nil {
		return nil
	}
	return d.stepLogged(in, rec)
}

// StepDecoded is Step for a message that DecodeMessage decoded from data:
// DecodeMessage accepts only the canonical encoding, so data is the log
// record Step would encode again (for a proposal, the whole block).
func (d *Driver) StepDecoded(m Message, data []byte) error {
	if d.err != nil {
		return d.err
	}
	return d.stepLogged(m, data)
}

func (d *Driver) stepLogged(in Input, rec []byte) error {
	rd := d.core.Step(in)
	d.seen("step", in, rd)
	return d.handle(rd, rec)
}

func (d *Driver) seen(call string, in Input, rd Ready) {
	if d.observe != nil {
		d.observe(call, in, rd)
	}
}

// Recover brings a fresh core (created at the store's height + 1) up to date after a
// restart: last is the store's head decision (nil if the store is empty), records the
// WAL records of the segments at or above the core's height, in log order. Nothing is
// sent; call Resume next.
func (d *Driver) Recover(last *Decision, records []WALRecord) error {
	if d.err != nil {
		return d.err
	}
	d.replaying = true
	defer func() { d.replaying = false; d.inLog = nil }()
	var rd Ready
	if last != nil {
		var err error
		if rd, err = d.core.SyncTo(*last); err != nil {
			return d.fail(fmt.Errorf("bft: the store's head decision does not verify: %w", err))
		}
		d.seen("syncto", nil, rd)
	} else {
		rd = d.core.Start()
		d.seen("start", nil, rd)
	}
	h := d.core.Height()
	if err := d.host.StartSegment(h); err != nil {
		return d.fail(err)
	}
	d.inLog = make(map[string]bool)
	for _, r := range records {
		if r.Segment == h {
			d.inLog[string(r.Data)] = true
		}
	}
	if err := d.handle(rd, nil); err != nil {
		return err
	}
	for i, r := range records {
		in, err := DecodeInput(r.Data)
		if err != nil {
			return d.fail(fmt.Errorf("bft: WAL record %d of segment %d: %w", i, r.Segment, err))
		}
		rd := d.core.Step(in)
		d.seen("step", in, rd)
		if err := d.handle(rd, nil); err != nil {
			return err
		}
		if err := d.point(PointReplay); err != nil {
			return err
		}
	}
	if err := d.host.SyncWAL(); err != nil {
		return d.fail(err)
	}
	return d.point(PointReplayed)
}

// Resume sends what Recover held back: the messages of the current height the replay
// produced that were not in the log yet (durable now; those of a height the replay went
// on to decide are no use to anyone, and their segment may be gone), and our latest
// prevote and precommit, so peers learn where we are.
func (d *Driver) Resume() error {
	if d.err != nil {
		return d.err
	}
	sent := make(map[string]bool)
	send := func(m Message) {
		b, err := EncodeMessage(m)
		if err != nil || sent[string(b)] {
			return
		}
		sent[string(b)] = true
		d.host.Send(m)
	}
	for _, m := range d.held {
		if m.Height() == d.core.Height() {
			send(m)
		}
	}
	d.held = nil
	for _, m := range d.core.LatestVotes() {
		send(m)
	}
	return nil
}

func (d *Driver) fail(err error) error {
	d.Abort(err)
	return d.err
}

func (d *Driver) point(p string) error {
	if d.crash == nil || d.err != nil {
		return d.err
	}
	if err := d.crash(p); err != nil {
		return d.fail(err)
	}
	return nil
}

// handle carries out a Ready in the order above. input is the logged form of the
// input that produced it (nil for Start/Advance/SyncTo and during Recover, whose
// inputs are in the log already).
func (d *Driver) handle(rd Ready, input []byte) error {
	if d.err != nil {
		return d.err // aborted inside the core call: nothing of this Ready happens
	}
	// 1. Persist.
	group := make([][]byte, 0, 1+len(rd.Buffered)+len(rd.Messages))
	if input != nil {
		group = append(group, input)
	}
	var fresh []Message // messages not in the log before (during Recover)
	for _, m := range rd.Buffered {
		if rec, ok := d.record(m); ok {
			group = append(group, rec)
		}
	}
	for _, m := range rd.Messages {
		if rec, ok := d.record(m); ok {
			group = append(group, rec)
			fresh = append(fresh, m)
		}
	}
	if d.err != nil {
		return d.err
	}
	if len(group) > 0 {
		if err := d.host.AppendWAL(group); err != nil {
			return d.fail(err)
		}
	}
	if d.replaying {
		// Held back until Recover has synced the WAL; only what the log lacked (what
		// the log had was sent, or not, by the life that logged it).
		d.held = append(d.held, fresh...)
	} else {
		if err := d.point(PointAppended); err != nil {
			return err
		}
		if len(rd.Messages) > 0 {
			if err := d.host.SyncWAL(); err != nil {
				return d.fail(err)
			}
			if err := d.point(PointSynced); err != nil {
				return err
			}
		}
		// 2. Send: everything in this Ready is durable now.
		for _, m := range rd.Messages {
			d.host.Send(m)
		}
		if len(rd.Messages) > 0 {
			if err := d.point(PointSent); err != nil {
				return err
			}
		}
	}
	// 3. Apply.
	if rd.Commit != nil {
		if !d.replaying {
			if err := d.point(PointBeforeApply); err != nil {
				return err
			}
		}
		if err := d.host.Apply(*rd.Commit); err != nil {
			return d.fail(err)
		}
		if d.err != nil {
			return d.err // the host aborted inside Apply
		}
		if !d.replaying {
			if err := d.point(PointApplied); err != nil {
				return err
			}
		}
		if err := d.host.StartSegment(rd.Commit.Height + 1); err != nil {
			return d.fail(err)
		}
		if d.replaying {
			clear(d.inLog) // a new segment: it holds nothing yet
		}
		ard := d.core.Advance()
		d.seen("advance", nil, ard)
		if err := d.handle(ard, nil); err != nil {
			return err
		}
	}
	// 4. The rest.
	if err := d.host.Rest(rd); err != nil {
		return d.fail(err)
	}
	return d.err
}

// record encodes m for the WAL; during Recover it reports false for a record the
// current segment already holds.
func (d *Driver) record(m Message) ([]byte, bool) {
	rec, err := EncodeInput(m)
	if err != nil {
		// Our own messages and verified buffered ones always encode.
		d.Abort(fmt.Errorf("bft: encoding a message for the WAL: %w", err))
		return nil, false
	}
	if d.replaying {
		if d.inLog[string(rec)] {
			return nil, false
		}
		d.inLog[string(rec)] = true
	}
	return rec, true
}
