package mesh

import "sync/atomic"

// Event is a kind of thing the mesh counts.
type Event uint8

// The events. Drops lose one frame; cuts close a connection.
const (
	Sent            Event = iota // a frame was handed to a peer's stream
	Received                     // a frame was delivered to the node
	DropQueueFull                // the send queue to a slow peer was full
	DropNoLink                   // a frame for a peer that is not connected
	DropRate                     // a peer's frame above its rate limit
	DropInboxFull                // the node did not keep up with a channel
	CutOversized                 // a peer sent a frame above the channel's limit
	CutGarbage                   // a peer broke the protocol (unknown channel, bad hello, second stream)
	CutFlood                     // a peer went on far above its rate limit
	CutWrongNetwork              // a peer of another election
	CutTimeout                   // a peer did not greet in time, or a write stalled
	Refused                      // a handshake refused: unknown or unexpected key
	numEvents
)

var eventNames = [numEvents]string{
	"sent", "received", "drop_queue_full", "drop_no_link", "drop_rate", "drop_inbox_full",
	"cut_oversized", "cut_garbage", "cut_flood", "cut_wrong_network", "cut_timeout", "refused",
}

func (e Event) String() string {
	if e < numEvents {
		return eventNames[e]
	}
	return "event(?)"
}

// maxChannelID bounds channel ids; 0 is the control channel.
const maxChannelID = 15

// counters counts events by channel id (0 for events of no channel).
type counters struct {
	c [numEvents][maxChannelID + 1]atomic.Uint64
}

func (c *counters) add(e Event, ch uint8) { c.c[e][ch].Add(1) }

// Count is one counter.
type Count struct {
	Event   Event
	Channel string // the channel's name ("" for events of no channel)
	Value   uint64
}

// Counts returns every counter, zero or not, so that a metrics exporter
// has every series from the start.
func (m *Mesh) Counts() []Count {
	var out []Count
	for e := range numEvents {
		switch e {
		case Refused, CutGarbage, CutWrongNetwork, CutTimeout:
			var v uint64
			for ch := range maxChannelID + 1 {
				v += m.counts.c[e][ch].Load()
			}
			out = append(out, Count{Event: e, Value: v})
			continue
		}
		for _, spec := range m.cfg.Channels {
			out = append(out, Count{Event: e, Channel: spec.Name, Value: m.counts.c[e][spec.ID].Load()})
		}
	}
	return out
}

// Count returns one counter: the event on a channel id (summed over all
// channels when ch is negative).
func (m *Mesh) Count(e Event, ch int) uint64 {
	if ch >= 0 {
		return m.counts.c[e][ch].Load()
	}
	var v uint64
	for i := range maxChannelID + 1 {
		v += m.counts.c[e][i].Load()
	}
	return v
}
