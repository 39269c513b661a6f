// Command enginebench measures pouwd's training engine for
// scripts/bench/train_vs_torch.sh: canonical GEMM GFLOP/s and training
// samples/s, one JSON object per line. The PyTorch side is torch_bench.py.
package main
