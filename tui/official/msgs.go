package official

import (
	"time"

	"github.com/urna-vote/urna/tui"
)

// Every message type of the officials' console. Commands (cmds.go) talk to
// the station and answer with one of these.

// statusMsg is the station's status as read at time at.
type statusMsg struct {
	status tui.Status
	at     time.Time
	err    error
}

// refreshMsg asks for a fresh status (sent on a timer).
type refreshMsg struct{}

// keyMsg says whether the election key was verified from the chain.
type keyMsg struct {
	key []byte
	err error
}

// eventsMsg is the station's stream of committed blocks, or why it could
// not be opened.
type eventsMsg struct {
	events <-chan tui.Event
	err    error
}

// eventMsg is one committed block; ok is false when the stream ended.
type eventMsg struct {
	event tui.Event
	ok    bool
}

// resultsMsg is the verified tally.
type resultsMsg struct {
	results tui.Results
	err     error
}

// approvedMsg is the outcome of an approval: committed at height, or err.
type approvedMsg struct {
	height uint64
	err    error
}
