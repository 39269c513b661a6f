#!/usr/bin/env bash
# Runs accel/cuda's tests and GEMM benchmarks on a GPU machine that has no Go
# toolchain, from the test binary scripts/gpu-build.sh made elsewhere:
#
#   here (Go, CUDA headers):  bash scripts/gpu-build.sh      -> build/gpu/
#   GPU machine (same tree, build/gpu carried over):  bash scripts/gpu-check.sh
#
# Steps: machine facts (nvidia-smi), the full test suite (every device test
# must run: a skip for "no usable GPU" is a failure here), a check that each
# Transformer kernel test (TestTransformer*: attention softmax and its
# backward, LayerNorm, GELU, token pooling, patch tokens, positions,
# SinCos32 and the sinusoidal table, bit for bit against package ml) is in
# the binary and passed in that run, the canonical GEMM
# benchmark (GFLOP/s and % of the FP32 CUDA-core peak, 1024^3 to 4096^3),
# and, when python3 with a CUDA-enabled torch is installed, cuBLAS SGEMM with
# TF32 off at the same sizes and the ratio ours/cuBLAS, and the device
# state hash (pouw/statehash leaves on the GPU, GB/s of tensor data, 64 MiB
# and 1 GiB) against statehash.Sum on this machine's cores, and resident
# training (ml/devtrain's tests: every step's bits equal the host's, the
# MNIST MLP golden; BenchmarkResidentStep: samples/s resident on the GPU
# against the host path on this machine's cores), and training throughput
# of ResNet-20 batch 128 and a Transformer d512 6 layers sequence 256
# (BenchmarkResidentFamilies) resident on the GPU, on this machine's CPU
# cores, and in PyTorch eager fp32 with TF32 off on the same GPU
# (scripts/bench/torch_gpu_train.py, when torch has CUDA). Results go to
# $OUT (the device tool's output folder) or build/gpu/results. About 1-2
# minutes.
#
# Environment: POUW_FP32_PEAK_TFLOPS (default 67, H200 SXM), BENCHTIME
# (default 20x), BENCHTIME_FAMILIES (default 5x), TEST_TIMEOUT seconds
# (default 300).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/build/gpu/cuda.test"
out="${OUT:-$root/build/gpu/results}"
mkdir -p "$out"
start=$(date +%s)
step() { echo; echo "=== $* ($(($(date +%s) - start))s)"; }
status=0

step "machine"
if command -v nvidia-smi >/dev/null 2>&1; then
	nvidia-smi --query-gpu=index,name,driver_version,memory.total,clocks.max.sm,power.limit --format=csv 2>&1 | tee "$out/nvidia-smi.txt"
else
	echo "nvidia-smi not found"
fi
if [ ! -x "$bin" ]; then
	echo "gpu-check: $bin is missing: run scripts/gpu-build.sh on a machine with Go and carry build/gpu here" >&2
	exit 1
fi
cat "$root/build/gpu/manifest.txt" 2>/dev/null
if ! "$bin" -test.list '^TestOpen$' >/dev/null 2>"$out/start-error.txt"; then
	echo "gpu-check: the test binary does not start here:" >&2
	cat "$out/start-error.txt" >&2
	if grep -q 'libcuda.so.1' "$out/start-error.txt"; then
		echo "gpu-check: libcuda.so.1 (the NVIDIA driver) is not installed on this machine" >&2
	fi
	exit 1
fi

step "tests"
(cd "$root/accel/cuda" && timeout "${TEST_TIMEOUT:-300}" "$bin" -test.v -test.count=1 -test.timeout "$((${TEST_TIMEOUT:-300} - 10))s") >"$out/tests.txt" 2>&1
rc=$?
grep -E '^(--- |ok|PASS|FAIL|panic)|^\s+\S+_test\.go:[0-9]+: ' "$out/tests.txt" | cut -c1-220
if [ "$rc" != 0 ]; then
	echo "gpu-check: tests FAILED (exit $rc); full log in $out/tests.txt"
	status=1
fi
if grep -q 'no usable GPU' "$out/tests.txt"; then
	echo "gpu-check: device tests were SKIPPED (no usable GPU) on a GPU machine"
	status=1
fi

step "Transformer kernels against package ml (TestTransformer*)"
transformer=$("$bin" -test.list '^TestTransformer' 2>/dev/null | grep '^TestTransformer' || true)
if [ -z "$transformer" ]; then
	echo "gpu-check: the test binary has no TestTransformer* tests (built from an older tree?)"
	status=1
fi
passed=0
for name in $transformer; do
	if grep -q "^--- PASS: $name (" "$out/tests.txt"; then
		passed=$((passed + 1))
	else
		echo "gpu-check: $name did not pass on the GPU (see $out/tests.txt)"
		status=1
	fi
done
echo "$passed of $(echo "$transformer" | grep -c .) Transformer kernel tests passed on the GPU"

step "ml golden vectors on the GPU (MNIST MLP and CNN, 200 steps each)"
if [ -x "$root/build/gpu/ml.test" ]; then
	(cd "$root/ml" && POUWD_MNIST_DIR="$root/build/gpu/mnist" timeout 240 "$root/build/gpu/ml.test" -test.run 'GoldenWeightsCUDA' -test.v -test.count=1) >"$out/ml-golden.txt" 2>&1
	rc=$?
	grep -E '^(--- |ok|PASS|FAIL|panic)|_test\.go:[0-9]+: ' "$out/ml-golden.txt" | cut -c1-220
	if [ "$rc" != 0 ] || grep -q 'no usable NVIDIA GPU' "$out/ml-golden.txt"; then
		echo "gpu-check: ml golden vectors FAILED or SKIPPED; log in $out/ml-golden.txt"
		status=1
	fi
else
	echo "build/gpu/ml.test missing (scripts/gpu-build.sh builds it)"
	status=1
fi

step "resident training on the GPU (ml/devtrain: every step's bits = the host's, the MNIST MLP golden) and its speed against the host path"
if [ -x "$root/build/gpu/devtrain.test" ]; then
	(cd "$root/ml/devtrain" && POUWD_MNIST_DIR="$root/build/gpu/mnist" timeout 240 "$root/build/gpu/devtrain.test" -test.v -test.count=1 \
		-test.bench 'ResidentStep' -test.benchtime "${BENCHTIME:-20x}") >"$out/devtrain.txt" 2>&1
	rc=$?
	grep -E '^(--- |ok|PASS|FAIL|panic|Benchmark)|_test\.go:[0-9]+: ' "$out/devtrain.txt" | cut -c1-220
	if [ "$rc" != 0 ] || grep -q 'no usable NVIDIA GPU' "$out/devtrain.txt"; then
		echo "gpu-check: resident training FAILED or SKIPPED; log in $out/devtrain.txt"
		status=1
	fi
	awk '$1 ~ /^BenchmarkResidentStep\// { for (i = 2; i < NF; i++) if ($(i + 1) == "samples/s") v[$1 ~ /device/ ? "device" : "host"] = $i }
		END { if (v["host"] > 0 && v["device"] > 0) printf "resident MLP 784-2048-2048-10 batch 256: device %.0f samples/s, host %.0f samples/s, %.1fx\n", v["device"], v["host"], v["device"] / v["host"] }' \
		"$out/devtrain.txt" | tee "$out/devtrain-summary.txt"
else
	echo "build/gpu/devtrain.test missing (scripts/gpu-build.sh builds it)"
	status=1
fi

step "training throughput against PyTorch eager on this GPU and against the host path (ResNet-20 b128, Transformer d512 L6 s256 b32)"
if [ -x "$root/build/gpu/devtrain.test" ]; then
	(cd "$root/ml/devtrain" && timeout 240 "$root/build/gpu/devtrain.test" -test.run '^$' -test.bench 'ResidentFamilies' \
		-test.benchtime "${BENCHTIME_FAMILIES:-5x}") >"$out/families.txt" 2>&1 || status=1
	grep -E '^(Benchmark|FAIL|panic)|SKIP|skip' "$out/families.txt" | cut -c1-220
fi
: >"$out/torch-train.txt"
if command -v python3 >/dev/null 2>&1 && python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' >/dev/null 2>&1; then
	timeout 180 python3 "$root/scripts/bench/torch_gpu_train.py" cuda 20 2>&1 | tee "$out/torch-train.txt"
else
	echo "python3 with a CUDA-enabled torch not found: no PyTorch training comparison"
fi
awk '
	FILENAME ~ /torch-train/ && /^\{/ {
		match($0, /"name": "[^"]*"/); n = substr($0, RSTART + 9, RLENGTH - 10)
		match($0, /"samples_per_second": [0-9.e+]*/); torch[n] = substr($0, RSTART + 22, RLENGTH - 22)
	}
	FILENAME ~ /families/ && $1 ~ /^BenchmarkResidentFamilies\// {
		split($1, p, "/"); side = p[3]; sub(/-[0-9]+$/, "", side)
		for (i = 2; i < NF; i++) if ($(i + 1) == "samples/s") v[p[2] "/" side] = $i
		if (!(p[2] in seen)) { seen[p[2]] = 1; order[++k] = p[2] }
	}
	END {
		printf "\n%-30s %12s %12s %12s %10s %10s\n", "training (samples/s)", "GPU", "host CPU", "PyTorch", "GPU/torch", "GPU/host"
		for (a = 1; a <= k; a++) {
			g = v[order[a] "/device"]; h = v[order[a] "/host"]; t = torch[order[a]]
			printf "%-30s %12s %12s %12s %10s %10s\n", order[a], (g == "" ? "-" : g), (h == "" ? "-" : h), (t == "" ? "-" : sprintf("%.1f", t)),
				(g != "" && t > 0 ? sprintf("%.2f", g / t) : "-"), (g != "" && h > 0 ? sprintf("%.1f", g / h) : "-")
		}
		printf "(GPU: resident canonical fp32; host CPU: the same run on this machine'"'"'s cores; PyTorch eager fp32, TF32 off; targets GPU/torch >= 0.5, GPU/host >= 20)\n"
	}' "$out/torch-train.txt" "$out/families.txt" | tee "$out/families-summary.txt"

step "canonical GEMM benchmark"
(cd "$root/accel/cuda" && "$bin" -test.run '^$' -test.bench 'Gemm' -test.benchtime "${BENCHTIME:-20x}" -test.timeout 300s) >"$out/bench.txt" 2>&1 || status=1
grep -E '^Benchmark|FAIL|panic' "$out/bench.txt"

step "state hash benchmark (device leaves vs statehash.Sum on the host)"
(cd "$root/accel/cuda" && "$bin" -test.run '^$' -test.bench 'StateHash' -test.benchtime "${BENCHTIME:-20x}" -test.timeout 300s) >"$out/bench-statehash.txt" 2>&1 || status=1
grep -E '^Benchmark|FAIL|panic' "$out/bench-statehash.txt"

step "cuBLAS SGEMM (TF32 off)"
: >"$out/cublas.txt"
if command -v python3 >/dev/null 2>&1 && python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' >/dev/null 2>&1; then
	python3 - <<'PY' 2>&1 | tee "$out/cublas.txt"
import torch
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
try:
    torch.set_float32_matmul_precision("highest")
except AttributeError:
    pass
print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0))
for n in (1024, 2048, 4096):
    a = torch.randn(n, n, device="cuda", dtype=torch.float32)
    b = torch.randn(n, n, device="cuda", dtype=torch.float32)
    for _ in range(3):
        torch.mm(a, b)
    torch.cuda.synchronize()
    iters = 20
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    s.record()
    for _ in range(iters):
        torch.mm(a, b)
    e.record()
    torch.cuda.synchronize()
    sec = s.elapsed_time(e) / 1000 / iters
    print("cublas n=%d %.1f GFLOP/s" % (n, 2 * n**3 / sec / 1e9))
PY
else
	echo "python3 with a CUDA-enabled torch not found: no cuBLAS comparison"
fi

step "summary"
peak=${POUW_FP32_PEAK_TFLOPS:-67}
awk -v peak="$peak" '
	FILENAME ~ /cublas/ && $1 == "cublas" { split($2, kv, "="); cublas[kv[2]] = $3 }
	FILENAME ~ /bench/ && $1 ~ /^BenchmarkGemm\/n=/ {
		split($1, p, "/"); split(p[2], kv, "="); kern = p[3]; sub(/-[0-9]+$/, "", kern)
		for (i = 2; i < NF; i++) if ($(i + 1) == "GFLOP/s") ours[kv[2] "/" kern] = $i
	}
	END {
		printf "%-6s %-6s %12s %8s %12s %8s\n", "n", "kernel", "GFLOP/s", "%peak", "cuBLAS", "ratio"
		split("1024 2048 4096", ns, " "); split("auto t128 t64", ks, " ")
		for (a = 1; a <= 3; a++) for (b = 1; b <= 3; b++) {
			key = ns[a] "/" ks[b]
			if (!(key in ours)) continue
			cb = (ns[a] in cublas) ? sprintf("%12.0f %8.2f", cublas[ns[a]], ours[key] / cublas[ns[a]]) : sprintf("%12s %8s", "-", "-")
			printf "%-6s %-6s %12.0f %7.1f%% %s\n", ns[a], ks[b], ours[key], 100 * ours[key] / (peak * 1000), cb
		}
		printf "(peak %s TFLOP/s FP32 CUDA cores; ratio = ours / cuBLAS SGEMM with TF32 off)\n", peak
	}' "$out/cublas.txt" "$out/bench.txt" | tee "$out/summary.txt"
awk '
	$1 ~ /^BenchmarkStateHash(CPU)?\/MiB=/ {
		split($1, p, "/"); side = (p[1] == "BenchmarkStateHashCPU") ? "cpu" : "gpu"
		mib = p[2]; sub(/^MiB=/, "", mib); sub(/-[0-9]+$/, "", mib)
		for (i = 2; i < NF; i++) if ($(i + 1) == "GB/s") v[side "/" mib] = $i
		if (!(mib in seen)) { seen[mib] = 1; order[++n] = mib }
	}
	END {
		printf "\n%-10s %12s %12s %8s\n", "state MiB", "GPU GB/s", "CPU GB/s", "ratio"
		for (a = 1; a <= n; a++) {
			g = v["gpu/" order[a]]; c = v["cpu/" order[a]]
			printf "%-10s %12s %12s %8s\n", order[a], (g == "" ? "-" : g), (c == "" ? "-" : c), (g != "" && c > 0 ? sprintf("%.1f", g / c) : "-")
		}
		printf "(StateHash: device leaf kernels + leaf-hash download + host combine; CPU: statehash.Sum on all cores)\n"
	}' "$out/bench-statehash.txt" | tee -a "$out/summary.txt"
cat "$out/devtrain-summary.txt" "$out/families-summary.txt" 2>/dev/null | tee -a "$out/summary.txt"

if command -v nvidia-smi >/dev/null 2>&1; then
	nvidia-smi --query-gpu=temperature.gpu,power.draw,clocks.sm,utilization.gpu --format=csv 2>&1 | tail -1
fi
step "done: $([ "$status" = 0 ] && echo PASS || echo FAIL); results in $out"
exit "$status"
