// Package station is a polling station's node engine: one event loop that
// joins the consensus core (chain/bft) to the election chain (chain/ledger),
// the write-ahead log and double-sign guard that make it durable, the
// mempool, the station's own duties in the key generation and the tally,
// and the other stations through a Transport.
//
// The loop carries out the core's outputs in the safe order (see
// docs/architecture.md): every input and every message of ours is appended
// to the WAL, and the WAL is fsynced before any signed message leaves; then
// the messages are sent; a decided block is applied and committed with its
// certificate and the new state in one store transaction, and only then are
// waiting clients told. The network plugs in through the small
// Transport interface; package net implements it over QUIC, and tests use
// the in-memory one of this package's tests.
package station
