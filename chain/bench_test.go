package chain_test

import (
	"math/rand/v2"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/urna-vote/urna/chain"
	"github.com/urna-vote/urna/chain/chaintest"
)

// BenchmarkApplyBlock measures applying a block of 1,000 ballots of the
// mayor election (one contest, four candidates): "cached" when the mempool
// already verified the ballots (the usual path), "cold" when every ballot is
// verified during the apply (block sync, an auditor's replay).
func BenchmarkApplyBlock(b *testing.B) {
	const n = 1000
	p := openChainN(b, 2, n)
	m := p.e.Genesis.Manifest()
	txs := make([]*chain.Tx, n)
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(1, uint64(w)))
			for v := w; v < n; v += workers {
				bl, _ := p.c.Ballot(b, v, v%4, chaintest.RandomChoices(&m, r))
				txs[v] = chain.NewBallotTx(bl)
			}
		}()
	}
	wg.Wait()
	data := p.c.Build(txs...)
	for _, mode := range []string{"cached", "cold"} {
		b.Run(mode, func(b *testing.B) {
			if _, err := p.e.Machine.Apply(p.c.State, p.c.KV, data); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			cpu := cpuTime()
			for b.Loop() {
				if mode == "cold" {
					p.e.Machine.Cache().Reset()
				}
				if _, err := p.e.Machine.Apply(p.c.State, p.c.KV, data); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/ballot")
			b.ReportMetric(float64((cpuTime()-cpu).Nanoseconds())/float64(b.N)/1e6, "cpu-ms/block")
		})
	}
}

// cpuTime is the CPU time this process has used (user + system): on a
// shared machine it varies much less with the neighbours' load than wall
// time does.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
