// Package nvml detects NVIDIA GPUs and reads their telemetry (memory,
// utilisation, temperature, power) through NVML (github.com/NVIDIA/go-nvml,
// which loads libnvidia-ml at run time). It is a cgo leaf: the engine (ml,
// accel, accel/cpu) never imports it, so those build with CGO_ENABLED=0; the
// CLI passes a Prober to accel.Detect. Built without cgo, Probe reports that
// no driver can be found.
//
// For monitoring, a Session keeps NVML open between readings and returns
// each GPU's Telemetry: besides memory, utilisation, temperature and
// power, the SM clock, the active clock event ("throttle") reasons and
// the uncorrected ECC error count. The reason names (Reasons,
// ReasonNames, AlertReasons) build without cgo, so a metrics exporter has
// the same fixed label set in every build.
//
// This package must never panic or exit on a machine without a GPU or
// driver; it only reports accel.ErrNoDriver.
package nvml
