package station

import (
	"context"
	"crypto/sha256"
	"time"

	"github.com/urna-vote/urna/ballot"
)

// Ballots arriving for admission (from clients and gossiped by peers) have
// their cryptography checked in batches: ballot.Election.VerifyBallots
// checks many proofs in one multi-scalar multiplication, at about half the
// cost per ballot of checking them one by one. A ballot that verifies goes
// into the machine's cache of verified ballots, where the admission rules
// (Machine.CheckTx) and the block's validation find it; a ballot that does
// not verify stays out, and CheckTx checks it alone and names the fault.
// So batching only ever saves work: no verdict depends on it.

// maxVerifyBatch bounds one batch: enough for the batch's fixed costs to be
// spread thin, few enough that a ballot does not wait long behind others.
const maxVerifyBatch = 256

// A batch smaller than efficientBatch waits up to verifyLinger for more
// ballots. Per ballot, a batch of 8 costs a third more CPU than one of 32
// (BenchmarkVerifyBallots1x5 with -cpu 1: 0.42 ms against 0.33 ms), and
// under load the ballots that arrive while a batch is checked are often
// only a dozen or two; a few milliseconds of waiting is nothing next to a
// block's time, and an idle station loses only those milliseconds.
const efficientBatch = 32

// verifyLinger is a variable for the tests.
var verifyLinger = 3 * time.Millisecond

// verifyJob is ballots waiting to be verified; done is closed once the
// verdicts are in the cache.
type verifyJob struct {
	ballots []*ballot.Ballot
	hashes  [][32]byte // SHA-256 of each ballot's bytes (the cache's key)
	done    chan struct{}
}

// verifier gathers the jobs waiting and checks them in one batch, until
// ctx is done. Under load the batches grow by themselves (the jobs that
// arrive while a batch is checked form the next one); a small batch waits
// up to verifyLinger for more.
func (e *Engine) verifier(ctx context.Context) {
	var jobs []*verifyJob
	for {
		jobs = jobs[:0]
		select {
		case <-ctx.Done():
			return
		case j := <-e.verifyq:
			jobs = append(jobs, j)
		}
		n := len(jobs[0].ballots)
	gather:
		for n < maxVerifyBatch {
			select {
			case j := <-e.verifyq:
				jobs = append(jobs, j)
				n += len(j.ballots)
			default:
				break gather
			}
		}
		if n < efficientBatch {
			linger := time.NewTimer(verifyLinger)
		wait:
			for n < efficientBatch {
				select {
				case j := <-e.verifyq:
					jobs = append(jobs, j)
					n += len(j.ballots)
				case <-linger.C:
					break wait
				case <-ctx.Done():
					linger.Stop()
					for _, j := range jobs {
						close(j.done)
					}
					return
				}
			}
			linger.Stop()
		}
		if v := e.verifyJobs(jobs); v > 0 {
			e.stats.verifyBatches.Add(1)
			e.stats.verifyBallots.Add(uint64(v))
		}
		for _, j := range jobs {
			close(j.done)
		}
	}
}

func (e *Engine) verifyJobs(jobs []*verifyJob) int {
	el, err := e.machine.Election(e.ledger.State())
	if err != nil {
		return 0 // no election key yet: CheckTx refuses ballots anyway
	}
	// The same ballot may come several times (from its client and from
	// peers echoing it, or verified by an earlier batch since it was
	// queued): once is enough.
	cache := e.machine.Cache()
	var bs []*ballot.Ballot
	var hs [][32]byte
	seen := make(map[[32]byte]bool)
	for _, j := range jobs {
		for i, h := range j.hashes {
			if !seen[h] && !cache.Contains(el, h) {
				seen[h] = true
				bs = append(bs, j.ballots[i])
				hs = append(hs, h)
			}
		}
	}
	// The ballots and the ciphertexts the verification decoded are kept
	// for counting the ballots when their block is applied.
	errs, decoded := el.VerifyAndDecodeBallots(bs)
	for i, err := range errs {
		if err == nil {
			cache.AddDecoded(el, hs[i], bs[i], decoded[i])
		}
	}
	return len(bs)
}

// preverify has ballots verified in a batch (see above) and waits for the
// verdicts, unless the verifier is not running, the election has no key
// yet, or they are all known to verify already. It returns early when ctx
// is done or the engine stops; the caller's CheckTx then does the work.
func (e *Engine) preverify(ctx context.Context, payloads [][]byte, ballots []*ballot.Ballot) {
	if !e.verifying.Load() || len(ballots) == 0 {
		return
	}
	el, err := e.machine.Election(e.ledger.State())
	if err != nil {
		return
	}
	cache := e.machine.Cache()
	j := &verifyJob{done: make(chan struct{})}
	for i, b := range ballots {
		h := sha256.Sum256(payloads[i])
		if !cache.Contains(el, h) {
			j.ballots = append(j.ballots, b)
			j.hashes = append(j.hashes, h)
		}
	}
	if len(j.ballots) == 0 {
		return
	}
	select {
	case e.verifyq <- j:
	case <-ctx.Done():
		return
	case <-e.done:
		return
	}
	select {
	case <-j.done:
	case <-ctx.Done():
	case <-e.done:
	}
}
