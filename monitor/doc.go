// Package monitor watches a pouwd process and its machine: it reads
// resources (CPU per core, memory, swap, the watched folders' disk space,
// disk and network I/O, the process's RSS, file descriptors, threads and
// CPU, and every NVIDIA GPU through accel/nvml), exports them as the
// pouw_system_*, pouw_process_* and pouw_gpu_* Prometheus series of
// docs/MONITORING.md, turns them into alerts, and serves /metrics and
// /healthz.
//
//   - Reader takes one reading (Resources) with gopsutil and NVML. No GPU
//     driver is never an error: the reading has no GPUs.
//   - Collector exports a Source's reading: a Reader's Read at scrape
//     time (the validator, which has no loop of its own) or a Monitor's
//     Latest.
//   - Health evaluates the alert rules on each reading (disk_space,
//     memory_pressure, gpu_throttling, gpu_errors, no_progress) and the
//     process's own checks (AddCheck, e.g. chain_unreachable), logs each
//     condition once when it starts and once when it clears, exports
//     pouw_alert_active{condition} and answers /healthz: 200 "ok" or 503
//     with one line per condition that holds, numbers included.
//   - Start builds a Monitor: a registry with the standard collectors and
//     a loop reading every 15 s that feeds Health; Serve serves it.
//
// Readings happen off the training path (their own goroutine, or a
// scrape); nothing here is on a hot path. The package is monitoring only:
// the engine never imports it, and it imports no chain or network code
// (workers export their own series and register them in the Monitor's
// registry).
package monitor
