// Package chain is the election chain: its blocks and transactions, and the
// deterministic state machine that turns a sequence of blocks into the
// election's state (phase, key, approvals, counted ballots, aggregates,
// decryption shares, result).
//
// The state machine is a pure value in the style of etcd's raft: Validate and
// Apply take a state, a read-only view of the state's key/value data and a
// block, and return a new state and the key/value writes to persist. They use
// no clock, no goroutine, no map iteration order and no floating point, so
// every station and every auditor that applies the same blocks reaches the
// same state hash.
//
// Subpackages: genesis (configs and the canonical genesis), bft (the
// consensus core), store (Badger storage of blocks, certificates and state).
package chain
