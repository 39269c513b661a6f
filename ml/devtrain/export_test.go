//go:build cuda || cudaemu

package devtrain

// Floats is the float32 count New checks against the device's budget.
func Floats(t *Trainer) int { return t.floats() }

// DeviceFloats is the float32 count each device's replica checks against
// its budget (device 0 first).
func DeviceFloats(t *Trainer) []int {
	n := []int{t.floats()}
	for _, p := range t.peers {
		n = append(n, p.floats())
	}
	return n
}
