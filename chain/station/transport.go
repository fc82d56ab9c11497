package station

import (
	"errors"
	"fmt"

	"github.com/urna-vote/urna/ballot"
)

// Channel separates the kinds of traffic between stations, so that a large
// block sync never delays a vote (the network gives each its own stream).
type Channel uint8

// The channels.
const (
	ChannelConsensus Channel = 1 // bft messages: proposals and votes (bft.EncodeMessage)
	ChannelGossip    Channel = 2 // transactions (their canonical bytes)
	ChannelSync      Channel = 3 // block sync: SyncMessage, answered with decisions
	ChannelState     Channel = 4 // what a station holds of its height (bft.EncodeHave), for gossip
)

func (c Channel) String() string {
	switch c {
	case ChannelConsensus:
		return "consensus"
	case ChannelGossip:
		return "gossip"
	case ChannelSync:
		return "sync"
	case ChannelState:
		return "state"
	}
	return fmt.Sprintf("channel(%d)", uint8(c))
}

// Packet is one message received from a station.
type Packet struct {
	From    int // station index; the transport has authenticated the sender
	Channel Channel
	Data    []byte
}

// Transport moves bytes between the stations of one election. Sends are
// best-effort and must not block the caller for long: a transport drops
// what it cannot deliver (the protocol re-sends what matters). From of a
// received Packet must be the authenticated sender.
type Transport interface {
	// Send sends to one station.
	Send(to int, ch Channel, data []byte)
	// Broadcast sends to every other station.
	Broadcast(ch Channel, data []byte)
	// Receive delivers packets from the other stations.
	Receive() <-chan Packet
	// Peers lists the stations reachable now.
	Peers() []int
}

// SyncMessage is what travels on ChannelSync: a station's height (sent now
// and then, so a lagging station learns it is behind), or a request for the
// decisions of heights From..To-1. Decisions are answered on ChannelSync as
// bft messages.
type SyncMessage struct {
	_      struct{} `cbor:",toarray"`
	Kind   uint8    // syncStatus or syncRequest
	Height uint64
	From   uint64
	To     uint64
}

const (
	syncStatus  uint8 = 1
	syncRequest uint8 = 2
	// syncDecision marks a ChannelSync payload that is a bft decision
	// message rather than a SyncMessage: the first byte of a SyncMessage is
	// a CBOR array header (0x84), never this.
	syncDecision byte = 0xD0
)

// maxSyncBatch bounds how many decisions one request is answered with.
const maxSyncBatch = 32

var errBadSync = errors.New("malformed sync message")

func decodeSync(b []byte) (*SyncMessage, error) {
	var m SyncMessage
	if err := ballot.Unmarshal(b, &m, 64); err != nil {
		return nil, fmt.Errorf("%w: %w", errBadSync, err)
	}
	if m.Kind != syncStatus && m.Kind != syncRequest {
		return nil, fmt.Errorf("%w: kind %d", errBadSync, m.Kind)
	}
	return &m, nil
}
