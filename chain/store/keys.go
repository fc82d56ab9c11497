package store

import "encoding/binary"

// Key namespaces: the first byte of every Badger key says what the record is.
// The package doc comment has the full table. Badger reserves keys starting
// with "!badger!", which no namespace byte here can produce.
const (
	nsHead  byte = 'H' // "H": the head record (headRecord)
	nsBlock byte = 'b' // 'b' + height: canonical block bytes
	nsHash  byte = 'h' // 'h' + height: the block's hash (32 bytes)
	nsCert  byte = 'c' // 'c' + height: the block's commit certificate
	nsRoot  byte = 'r' // "r": encoded root state after the head block
	nsState byte = 's' // 's' + state key: state value
	nsIndex byte = 'i' // 'i' + index key: index value
	nsMeta  byte = 'm' // 'm' + meta key: node-local value, not part of the chain
)

// heightKeyLen is the length of a per-height key: namespace byte + 8-byte
// big-endian height, so Badger's byte order is height order.
const heightKeyLen = 9

var (
	headKey = []byte{nsHead}
	rootKey = []byte{nsRoot}
)

func heightKey(ns byte, h uint64) []byte {
	k := make([]byte, heightKeyLen)
	k[0] = ns
	binary.BigEndian.PutUint64(k[1:], h)
	return k
}

// parseHeightKey returns the height of a per-height key of namespace ns.
func parseHeightKey(ns byte, k []byte) (uint64, bool) {
	if len(k) != heightKeyLen || k[0] != ns {
		return 0, false
	}
	return binary.BigEndian.Uint64(k[1:]), true
}

func prefixed(ns byte, key []byte) []byte {
	k := make([]byte, 1+len(key))
	k[0] = ns
	copy(k[1:], key)
	return k
}
