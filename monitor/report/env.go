package report

import (
	"os"
	"runtime"
	"runtime/debug"

	"github.com/pouw/pouwd/accel"
)

// Environment is the machine and build that ran.
type Environment struct {
	GoVersion string `json:"go_version"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
	// CPUModel, CPUCores (logical) and CPUFeatures as accel.DetectCPU
	// reports them; MemoryTotalBytes the machine's RAM.
	CPUModel         string   `json:"cpu_model,omitempty"`
	CPUCores         int      `json:"cpu_cores"`
	CPUFeatures      []string `json:"cpu_features,omitempty"`
	MemoryTotalBytes uint64   `json:"memory_total_bytes,omitempty"`
	GPUs             []GPU    `json:"gpus,omitempty"`
	// PouwdVersion is the binary's version (the release, or the module
	// version and VCS revision the Go toolchain stamped).
	PouwdVersion string `json:"pouwd_version"`
	// Hostname is set only when the caller asks for it (a report may be
	// shared).
	Hostname string `json:"hostname,omitempty"`
}

// GPU is one GPU of the machine.
type GPU struct {
	Index            int    `json:"index"`
	Name             string `json:"name"`
	MemoryTotalBytes uint64 `json:"memory_total_bytes"`
	Driver           string `json:"driver,omitempty"`
}

// DetectEnvironment describes this machine and binary: the CPU from
// accel.DetectCPU, the gpus the caller detected (accel.Detect with the
// NVML prober; this package stays free of cgo), version as the caller
// knows it ("" reads the Go build information), and the hostname only
// when withHostname is set.
func DetectEnvironment(version string, gpus []accel.GPUInfo, withHostname bool) Environment {
	c := accel.DetectCPU()
	e := Environment{GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH,
		CPUModel: c.Model, CPUCores: c.Cores, CPUFeatures: c.Features, MemoryTotalBytes: c.MemoryTotal,
		PouwdVersion: version}
	for _, g := range gpus {
		e.GPUs = append(e.GPUs, GPU{Index: g.Index, Name: g.Name, MemoryTotalBytes: g.MemoryTotal, Driver: g.Driver})
	}
	if e.PouwdVersion == "" {
		e.PouwdVersion = buildVersion()
	}
	if withHostname {
		e.Hostname, _ = os.Hostname()
	}
	return e
}

// buildVersion is the main module's version and VCS revision from the
// build information ("(devel)" for a plain go build).
func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += "+" + s.Value[:12]
		}
	}
	return v
}
