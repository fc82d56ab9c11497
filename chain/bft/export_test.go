package bft

import "fmt"

// SetIgnoreLock makes c prevote every valid proposal regardless of its lock: the
// "amnesia" of a Byzantine validator, and a deliberately broken core for the checker's
// self-test. Tests only.
func SetIgnoreLock(c *Core, on bool) { c.ignoreLock = on }

// ObserveDriver makes d call f after every call it makes of its core (start, syncto,
// step, advance), with the input and the Ready, before carrying the Ready out. Tests
// only: the simulator checks its invariants there.
func ObserveDriver(d *Driver, f func(call string, in Input, rd Ready)) { d.observe = f }

// DebugRound describes round r of the current height. Tests only.
func DebugRound(c *Core, r uint32) string {
	rs := c.rounds[r]
	if rs == nil {
		return "no round state"
	}
	s := ""
	for t := range rs.votes {
		s += fmt.Sprintf("[type %d total %d:", t+1, rs.votes[t].total)
		for i, v := range rs.votes[t].byValidator {
			if v != nil {
				s += fmt.Sprintf(" v%d=%s", i, v.BlockHash)
			}
		}
		s += "] "
	}
	return s + fmt.Sprintf("prevoteTimer=%v precommitTimer=%v polka=%v proposal=%v waiting=%v", rs.prevoteTimerSet, rs.precommitTimerSet, rs.polkaDone, rs.proposal != nil, c.waiting)
}
