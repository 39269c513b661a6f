//go:build cudaemu && !cuda

package cuda

import (
	"context"

	"github.com/pouw/pouwd/accel"
)

// Telemetry reports the emulator's memory (it has no sensors).
func (b *Backend) Telemetry(ctx context.Context) (accel.GPUInfo, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	free, total, err := b.drv.memInfo()
	return accel.GPUInfo{Index: b.index, Name: b.inf.Name, UUID: b.inf.UUID, MemoryTotal: total, MemoryFree: free}, err
}
