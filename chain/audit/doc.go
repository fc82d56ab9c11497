// Package audit verifies an election from its genesis and its chain alone,
// as an observer does (`urna tally`): every block through the chain's own
// rules (chain.Machine, one definition of validity) and its commit
// certificate, each class of check reported on its own with its count
// (docs/verification.md lists them), and the aggregates, turnout, election
// key and result recomputed independently of the state the machine keeps.
//
// An Auditor takes blocks one at a time, so a live view can follow a
// running election; VerifyRecord audits a whole election record.
package audit
