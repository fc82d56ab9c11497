// Package bft is urna's consensus core: the Tendermint algorithm (Buchman, Kwon,
// Milosevic, "The latest gossip on BFT consensus", 2018, Algorithm 1) as a pure,
// deterministic state machine.
//
// The core agrees on opaque values ("blocks") identified by their SHA-256 hash among a
// fixed set of validators with equal voting power, tolerating f = (n-1)/3 Byzantine
// ones. It has no goroutines, clocks, sockets or disk: the caller feeds it Inputs
// (messages from peers, timeouts it scheduled, block values it was asked for) through
// Core.Step and carries out the returned Ready (messages to broadcast, timers to
// schedule, a decided block to apply). Votes and proposals are signed through the
// Signer interface, which is where the durable double-sign guard lives.
//
// The caller's order for every Ready is fixed, and implemented once, by Driver (the
// station engine and the simulator both run it; see docs/consensus.md):
//
//  1. append the input, then Ready.Buffered, then Ready.Messages (our own signed
//     messages) to the write-ahead log as one group;
//  2. if the Ready has messages, flush and fsync the log, then send them;
//  3. apply Ready.Commit through the chain and the store, start the log's next
//     height, then handle Core.Advance's Ready the same way;
//  4. schedule the timers, answer NeedProposal and Sync.
//
// Replaying the logged inputs into a fresh core (started at the store's height + 1)
// rebuilds the core's state; see Core for the exact guarantee, and Driver.Recover for
// the replay, which logs what it signs before anything is sent.
//
// Gossip (gossip.go) is pure as well: Core.Inventory snapshots what the core holds,
// Inventory.Have summarises it for peers, and Plan decides which proposals and votes
// (ours and relayed) a peer whose Have is known should be sent; the caller schedules.
//
// The package imports nothing of urna: a value is a byte string with a hash, its
// validity a callback (Config.Validate).
package bft
