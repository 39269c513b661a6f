// Command enginebench measures pouwd's training engine for
// scripts/bench/train_vs_torch.sh: canonical GEMM GFLOP/s and training
// samples/s (MLP, small CNN, ResNet-20 on 3x32x32 batch 128), one JSON
// object per line. The PyTorch side is torch_bench.py.
package main
