package mesh

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkMeshThroughput sends frames from one station to another over
// loopback QUIC and waits until all arrived: frames per second of one link
// (TLS 1.3, framing, the receiver's limits and queues included).
func BenchmarkMeshThroughput(b *testing.B) {
	for _, size := range []int{200, 4 << 10, 64 << 10} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			tn := newNet(b, 2, func(cfg *Config) {
				for i := range cfg.Channels {
					c := &cfg.Channels[i]
					c.SendQueue, c.RecvQueue = 1<<16, 1<<16
					c.Rate, c.Burst, c.ByteRate, c.ByteBurst = 1e9, 1e9, 1e12, 1e12
				}
			})
			deadline := time.Now().Add(10 * time.Second)
			for len(tn.stations[0].mesh.Peers()) != 1 || len(tn.stations[1].mesh.Peers()) != 1 {
				if time.Now().After(deadline) {
					b.Fatal("no connection")
				}
				time.Sleep(time.Millisecond)
			}
			data := make([]byte, size)
			b.SetBytes(int64(size))
			b.ResetTimer()
			m := tn.stations[0].mesh
			m.mu.Lock()
			queue := m.links[1].send[m.chans[chTx]]
			m.mu.Unlock()
			go func() {
				for range b.N {
					for len(queue) > 1<<15 {
						time.Sleep(50 * time.Microsecond) // stay below the queue bound
					}
					m.Send(1, chTx, data)
				}
			}()
			for range b.N {
				<-tn.stations[1].mesh.Receive()
			}
			b.StopTimer()
			for _, s := range tn.stations {
				s.mesh.Close()
				s.ep.Close()
			}
		})
	}
}
