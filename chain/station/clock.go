package station

import "time"

// Clock is the station's source of time: block times, the heartbeat,
// consensus timeouts and the periodic tick. The real one is the system
// clock; tests can drive the engine with a clock they advance by hand.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f once, d from now, on its own goroutine.
	AfterFunc(d time.Duration, f func())
}

type systemClock struct{}

func (systemClock) Now() time.Time                      { return time.Now() }
func (systemClock) AfterFunc(d time.Duration, f func()) { time.AfterFunc(d, f) }
