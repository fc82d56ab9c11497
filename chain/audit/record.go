package audit

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/urna-vote/urna/chain/record"
)

// Progress is how far a record's audit has got.
type Progress struct {
	Bytes   int64  // bytes of the record read
	Height  uint64 // blocks verified
	Counted uint64 // ballots counted so far
}

// Read-ahead bounds: enough ballots to keep every core busy in one batch,
// few enough that the machine's cache of verified ballots keeps them all
// until they are applied (MaxPreverify).
const (
	aheadBlocks = 64
	aheadBytes  = 16 << 20
)

// VerifyRecord audits a whole election record (chain/record's format)
// against the genesis fingerprint expect (nil: whatever genesis the record
// holds, which proves nothing about which election it is). progress, if
// not nil, is called after every batch of blocks. It always returns the
// report; the error is the first *Failure (errors.Is ErrVerification),
// nil when every check passed. A record that cannot be read to its end
// frame fails the record-format check.
func VerifyRecord(r io.Reader, expect *[32]byte, progress func(Progress)) (*Report, error) {
	a, err := verifyRecord(r, expect, progress)
	return a.Report(), err
}

func verifyRecord(r io.Reader, expect *[32]byte, progress func(Progress)) (*Auditor, error) {
	a := &Auditor{counts: map[string]uint64{}, failures: map[string]*Failure{}}
	formatFail := func(err error) (*Auditor, error) {
		h := a.Height()
		if a.m != nil {
			h++ // the frame of the next block
		}
		return a, a.Fail(&Failure{Check: CheckRecord, Rule: "framing", Height: h, Tx: -1, Detail: err.Error()})
	}
	rd, err := record.NewReader(r)
	if err != nil {
		return formatFail(err)
	}
	gb, err := rd.Next(record.KindGenesis)
	if err != nil {
		return formatFail(err)
	}
	rb, err := rd.Next(record.KindRoll)
	if err != nil {
		return formatFail(err)
	}
	if a, err = New(gb, rb, expect); err != nil {
		return a, err
	}
	a.Count(CheckRecord, 2)
	for {
		blocks, certs, readErr := readAhead(rd)
		// Verify the blocks read before a read error: their own faults
		// come first.
		a.Preverify(blocks)
		for i := range blocks {
			if err := a.Block(blocks[i], certs[i]); err != nil {
				return a, err
			}
			a.Count(CheckRecord, 2)
		}
		if progress != nil {
			a.mu.Lock()
			p := Progress{Bytes: rd.Offset(), Height: a.st.Height, Counted: a.st.Counted}
			a.mu.Unlock()
			progress(p)
		}
		if readErr != nil {
			return formatFail(readErr)
		}
		if len(blocks) == 0 {
			break
		}
	}
	end, err := rd.Next(record.KindEnd)
	if err != nil {
		return formatFail(err)
	}
	if h := a.Height(); len(end) != 8 || binary.BigEndian.Uint64(end) != h {
		return a, a.Fail(&Failure{Check: CheckRecord, Rule: "end-frame", Tx: -1, Detail: fmt.Sprintf("the end frame says %x, the record has %d blocks", end, h)})
	}
	if !rd.AtEOF() {
		return a, a.Fail(&Failure{Check: CheckRecord, Rule: "trailing-bytes", Tx: -1, Detail: fmt.Sprintf("bytes after the end frame at byte %d", rd.Offset())})
	}
	a.Count(CheckRecord, 1)
	return a, nil
}

// readAhead reads the next (block, certificate) frame pairs up to the
// read-ahead bounds; none when the end frame is next. A block whose
// certificate frame cannot be read is returned with a nil certificate and
// the error.
func readAhead(rd *record.Reader) (blocks, certs [][]byte, err error) {
	size := 0
	for len(blocks) < aheadBlocks && size < aheadBytes {
		kind, err := rd.Peek()
		if err != nil {
			return blocks, certs, err
		}
		if kind == record.KindEnd {
			return blocks, certs, nil
		}
		block, err := rd.Next(record.KindBlock)
		if err != nil {
			return blocks, certs, err
		}
		cert, err := rd.Next(record.KindCertificate)
		if err != nil {
			return blocks, certs, err
		}
		blocks, certs = append(blocks, block), append(certs, cert)
		size += len(block)
	}
	return blocks, certs, nil
}
