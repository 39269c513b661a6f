// Command mpbench measures mixed precision and data-parallel micro-batches
// in pouwd's training engine for scripts/bench/mixed_precision.sh: the
// activation memory a step holds for backward in fp32 and bf16 (MNIST MLP
// and CNN), and training samples/s of the MLP in fp32, bf16, fp16 and on
// several CPU devices, side by side.
package main
