//go:build race

package verify

// The race detector instruments memory and allocates: allocation counts mean nothing then.
const raceEnabled = true
