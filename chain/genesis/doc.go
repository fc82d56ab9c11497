// Package genesis reads election configs and makes the genesis: the
// canonical description of an election that every station, terminal and
// auditor starts from.
//
// A config is YAML (election-configs/*.yaml). ParseConfig reads it strictly
// (unknown fields, duplicate keys, anchors, tags and loose scalars are
// errors, each naming its field path and line) and checks every rule. A
// config is a template (no public keys, no voter roll hash, as the sample
// files are) or complete; Config.Complete fills a template in. FromConfig
// turns a complete config into a Genesis, whose Encode is the canonical
// genesis.json and whose Fingerprint, the SHA-256 of those bytes, identifies
// the election everywhere. Decode and Load read a genesis.json back, refusing
// any byte that is not exactly canonical.
//
// docs/config.md describes the YAML fields, the rules and the canonical JSON
// encoding precisely enough to write a verifier in another language.
package genesis
