package cuda

import (
	"embed"
	"io/fs"
	"regexp"
	"sort"
	"strings"
)

// The PTX of kernels/*.cu, made by scripts/cuda-ptx.sh (nvcc 11.8,
// -arch=compute_80, IEEE flags) and committed. The driver JIT-compiles it
// for the GPU at hand (sm_80 and newer), so one build serves A100, H100 and
// H200 alike and needs no CUDA runtime library.
//
//go:embed kernels/*.ptx
var ptxFS embed.FS

// ptxModules returns the embedded PTX modules, file name to text, in name
// order.
func ptxModules() (names []string, text map[string]string) {
	text = map[string]string{}
	files, err := fs.Glob(ptxFS, "kernels/*.ptx")
	if err != nil {
		panic(err) // the pattern is constant
	}
	for _, f := range files {
		b, err := ptxFS.ReadFile(f)
		if err != nil {
			panic(err)
		}
		name := strings.TrimPrefix(f, "kernels/")
		names = append(names, name)
		text[name] = string(b)
	}
	sort.Strings(names)
	return names, text
}

var entryRE = regexp.MustCompile(`(?m)^\.visible \.entry ([A-Za-z_][A-Za-z0-9_]*)\(`)

// ptxEntries lists the kernel entry points a PTX module defines.
func ptxEntries(ptx string) []string {
	var out []string
	for _, m := range entryRE.FindAllStringSubmatch(ptx, -1) {
		out = append(out, m[1])
	}
	return out
}

// kernel identifies one device kernel the Go code launches.
type kernel int

const (
	kGemmRef kernel = iota
	kGemmT128
	kGemmT64
	kGemmT32
	kExp32
	kLog32
	kTanh32
	kErf32
	kAdd
	kMulAcc
	kMul
	kAddBiasRows
	kReLUMask
	kReLUBwdAcc
	kGELUFwd
	kGELUBwdAcc
	kTanhBwdAcc
	kDropoutFwd
	kSGD
	kSGDMomentum
	kSGDWD
	kAdam
	kTreeLeaves
	kTreeLevel
	kTreeGather
	kColSum
	kRowSumAcc
	kXentFwd
	kXentBwd
	kIm2col
	kCol2imAcc
	kNCHWToCNHW
	kCNHWToNCHWBias
	kPool2dFwd
	kPool2dBwd
	kNormGather
	kNormStats
	kBNRunning
	kNormApply
	kNormBwdPrep
	kNormBwdDx
	kLNParamGrad
	kSampleGather
	kBlake3Leaves
	kAttnSoftmaxFwd
	kAttnSoftmaxBwd
	kTokenPoolFwd
	kTokenPoolBwd
	kPatchTokensFwd
	kPatchTokensBwd
	kColSumInto
	kSinCos32
	kSinPositions
	kMaxPoolPadFwd
	kEmbedFwd
	kEmbedBwd
	numKernels
)

// kernelNames are the PTX entry names, indexed by kernel. The tests check
// each against the embedded PTX (and the emulator's table), and that no
// entry is left without a name here.
var kernelNames = [numKernels]string{
	kGemmRef:        "pouw_gemm_ref",
	kGemmT128:       "pouw_gemm_t128",
	kGemmT64:        "pouw_gemm_t64",
	kGemmT32:        "pouw_gemm_t32",
	kExp32:          "pouw_exp32",
	kLog32:          "pouw_log32",
	kTanh32:         "pouw_tanh32",
	kErf32:          "pouw_erf32",
	kAdd:            "pouw_add",
	kMulAcc:         "pouw_mul_acc",
	kMul:            "pouw_mul",
	kAddBiasRows:    "pouw_add_bias_rows",
	kReLUMask:       "pouw_relu_mask",
	kReLUBwdAcc:     "pouw_relu_bwd_acc",
	kGELUFwd:        "pouw_gelu_fwd",
	kGELUBwdAcc:     "pouw_gelu_bwd_acc",
	kTanhBwdAcc:     "pouw_tanh_bwd_acc",
	kDropoutFwd:     "pouw_dropout_fwd",
	kSGD:            "pouw_sgd",
	kSGDMomentum:    "pouw_sgd_momentum",
	kSGDWD:          "pouw_sgd_wd",
	kAdam:           "pouw_adam",
	kTreeLeaves:     "pouw_tree_leaves",
	kTreeLevel:      "pouw_tree_level",
	kTreeGather:     "pouw_tree_gather",
	kColSum:         "pouw_colsum",
	kRowSumAcc:      "pouw_rowsum_acc",
	kXentFwd:        "pouw_xent_fwd",
	kXentBwd:        "pouw_xent_bwd",
	kIm2col:         "pouw_im2col",
	kCol2imAcc:      "pouw_col2im_acc",
	kNCHWToCNHW:     "pouw_nchw_to_cnhw",
	kCNHWToNCHWBias: "pouw_cnhw_to_nchw_bias",
	kPool2dFwd:      "pouw_pool2d_fwd",
	kPool2dBwd:      "pouw_pool2d_bwd",
	kNormGather:     "pouw_norm_gather",
	kNormStats:      "pouw_norm_stats",
	kBNRunning:      "pouw_bn_running",
	kNormApply:      "pouw_norm_apply",
	kNormBwdPrep:    "pouw_norm_bwd_prep",
	kNormBwdDx:      "pouw_norm_bwd_dx",
	kLNParamGrad:    "pouw_ln_param_grad",
	kSampleGather:   "pouw_sample_gather",
	kBlake3Leaves:   "pouw_blake3_leaves",
	kAttnSoftmaxFwd: "pouw_attn_softmax_fwd",
	kAttnSoftmaxBwd: "pouw_attn_softmax_bwd",
	kTokenPoolFwd:   "pouw_token_pool_fwd",
	kTokenPoolBwd:   "pouw_token_pool_bwd",
	kPatchTokensFwd: "pouw_patch_tokens_fwd",
	kPatchTokensBwd: "pouw_patch_tokens_bwd",
	kColSumInto:     "pouw_colsum_into",
	kSinCos32:       "pouw_sincos32",
	kSinPositions:   "pouw_sin_positions",
	kMaxPoolPadFwd:  "pouw_maxpool_pad_fwd",
	kEmbedFwd:       "pouw_embed_fwd",
	kEmbedBwd:       "pouw_embed_bwd",
}

func (k kernel) String() string { return kernelNames[k] }
