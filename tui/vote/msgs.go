package vote

import (
	"github.com/urna-vote/urna/ballot"
	"github.com/urna-vote/urna/chain/genesis"
	"github.com/urna-vote/urna/tui"
)

// Every message type of the voter terminal. Commands (see cmds.go) do the
// talking to the station and the cryptography and answer with one of these;
// Update only ever reads them.

// statusMsg is the station's status, or why it could not be read.
type statusMsg struct {
	status tui.Status
	err    error
}

// refreshMsg asks for a fresh status (sent on a timer).
type refreshMsg struct{}

// electionMsg is the election built from the verified key, or why not.
type electionMsg struct {
	election *ballot.Election
	err      error
}

// sealedMsg is the voter's choices sealed into a ballot. gen matches the
// review it was made for; a stale seal (the voter went back) is dropped.
type sealedMsg struct {
	gen    int
	sealed *sealed
	err    error
}

// openedMsg is a sealed ballot opened for a challenge.
type openedMsg struct {
	challenge *challenge
	err       error
}

// submittedMsg is a station's answer to a submitted transaction.
type submittedMsg struct {
	receipt tui.Receipt
	err     error
}

// committedMsg says the submitted transaction is in block height, or why
// waiting for it failed.
type committedMsg struct {
	height uint64
	err    error
}

// trackingMsg is the answer to a tracking-code look-up.
type trackingMsg struct {
	code   string
	result tui.Tracking
	err    error
}

// dialedMsg is a connection to another station, or why it failed.
type dialedMsg struct {
	station genesis.Station
	node    tui.Node
	err     error
}

// idleMsg fires after a quiet spell; it counts only if no key was pressed
// since it was armed (gen). warn is the first stage (a warning), the second
// clears everything.
type idleMsg struct {
	gen  int
	warn bool
}

// closedMsg reports that the previous station connection was closed.
type closedMsg struct{}
