package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"

	"github.com/urna-vote/urna/chain/genesis"
	"github.com/urna-vote/urna/chain/verify"
	"github.com/urna-vote/urna/net/api"
)

// dialStation connects to the station at addr, pinning its key from the
// genesis: the station with that address in the genesis; else, with id,
// that station; else any station of the genesis (the address may be a
// port mapping), and the handshake says which. It returns the client and
// the station's index.
func dialStation(ctx context.Context, g *genesis.Genesis, addr, id string) (*api.Client, int, error) {
	// A client's few requests need no large UDP buffers: quic-go's advice
	// to raise them (meant for nodes, see docs/operations.md) is noise here.
	os.Setenv("QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING", "true")
	stations := g.Stations()
	var keys []ed25519.PublicKey
	var index []int
	switch {
	case id != "":
		i, ok := g.StationIndex(id)
		if !ok {
			return nil, 0, fmt.Errorf("--station %q is not a station of election %s", id, g.ElectionID())
		}
		keys, index = []ed25519.PublicKey{stations[i].PublicKey}, []int{i}
	default:
		for i, st := range stations {
			if st.Address == addr {
				keys, index = []ed25519.PublicKey{st.PublicKey}, []int{i}
			}
		}
		if keys == nil {
			keys = g.StationKeys()
			for i := range stations {
				index = append(index, i)
			}
		}
	}
	c, err := api.Dial(ctx, addr, keys, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("cannot reach a station of election %s at %s (is its node running, and is this its address?): %w", g.ElectionID(), addr, err)
	}
	return c, index[c.Station()], nil
}

// blockSource adapts a client connection to the verifier's block source.
func blockSource(c *api.Client) verify.Source {
	return func(ctx context.Context, from uint64) ([]verify.Block, uint64, error) {
		bs, head, err := c.Blocks(ctx, from, 0)
		if err != nil {
			return nil, 0, err
		}
		out := make([]verify.Block, len(bs))
		for i, b := range bs {
			out[i] = verify.Block{Height: b.Height, Block: b.Block, Certificate: b.Certificate}
		}
		return out, head, nil
	}
}

// checkElection checks that a station serves the election of the genesis.
func checkElection(g *genesis.Genesis, st *api.Status) error {
	if st.Election != g.Fingerprint() {
		return fmt.Errorf("the station serves another election (fingerprint %x…, the genesis is %x…): check --genesis", st.Election[:6], g.Fingerprint())
	}
	return nil
}

// rejectionHint says what an official can do about a refused approval.
func rejectionHint(err error) string {
	var rej *api.RejectedError
	if !errors.As(err, &rej) {
		return ""
	}
	switch rej.Rule {
	case "wrong-phase":
		return "the polls open in phase READY (after the key ceremony) and close in phase OPEN: check `urna status`"
	case "not-official":
		return "the key is not an official's of this election: check --key and --genesis"
	case "wrong-election":
		return "the approval is for another election: check --genesis"
	case "mempool-full":
		return "the station is busy: try again in a moment"
	}
	return ""
}
