//go:build race

package fulfillment_test

// raceEnabled reports whether the race detector is on.
const raceEnabled = true
