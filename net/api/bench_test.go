package api

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkClientRoundTrip is one request and its answer over loopback
// QUIC (a stream each), against an in-memory backend: the protocol's own
// cost per request.
func BenchmarkClientRoundTrip(b *testing.B) {
	ts := startServer(b, newFake(64), Limits{Rate: 1e9, Burst: 1e9, ByteRate: 1e12, ByteBurst: 1e12})
	ctx := context.Background()
	b.Run("status", func(b *testing.B) {
		for range b.N {
			if _, err := ts.client.Status(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("submit-4KiB", func(b *testing.B) {
		tx := make([]byte, 4<<10)
		for i := range b.N {
			tx[0], tx[1], tx[2] = byte(i), byte(i>>8), byte(i>>16)
			if _, err := ts.client.Submit(ctx, tx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("blocks-64", func(b *testing.B) {
		for range b.N {
			if bs, _, err := ts.client.Blocks(ctx, 1, 0); err != nil || len(bs) != 64 {
				b.Fatal(fmt.Sprint(len(bs)), err)
			}
		}
	})
}
