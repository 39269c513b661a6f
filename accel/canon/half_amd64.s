//go:build amd64 && !purego

#include "textflag.h"

// func roundBF16AVX2(dst, src *float32, n int)
// n > 0, a multiple of 8. Per lane b (the float32 bits):
//   r = (b + 0x7fff + ((b >> 16) & 1)) & 0xffff0000
//   r = (b & 0x7fffffff) > 0x7f800000 ? 0x7fc00000 : r
TEXT ·roundBF16AVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	MOVL $1, AX
	MOVD AX, X8
	VPBROADCASTD X8, Y8             // 1
	MOVL $0x7fff, AX
	MOVD AX, X9
	VPBROADCASTD X9, Y9             // 0x7fff
	MOVL $0xffff0000, AX
	MOVD AX, X10
	VPBROADCASTD X10, Y10           // 0xffff0000
	MOVL $0x7fffffff, AX
	MOVD AX, X11
	VPBROADCASTD X11, Y11           // 0x7fffffff
	MOVL $0x7f800000, AX
	MOVD AX, X12
	VPBROADCASTD X12, Y12           // 0x7f800000
	MOVL $0x7fc00000, AX
	MOVD AX, X13
	VPBROADCASTD X13, Y13           // canonical NaN

bf16loop:
	VMOVDQU (SI), Y0                // b
	VPSRLD $16, Y0, Y1
	VPAND Y8, Y1, Y1                // (b >> 16) & 1
	VPADDD Y0, Y1, Y1
	VPADDD Y9, Y1, Y1               // b + 0x7fff + lsb
	VPAND Y10, Y1, Y1               // & 0xffff0000
	VPAND Y11, Y0, Y2               // a = b & 0x7fffffff (non-negative as int32)
	VPCMPGTD Y12, Y2, Y3            // a > 0x7f800000: NaN
	VPBLENDVB Y3, Y13, Y1, Y1
	VMOVDQU Y1, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ bf16loop
	VZEROUPPER
	RET

// func roundFP16AVX2(dst, src *float32, n int)
// n > 0, a multiple of 8. Per lane b, with s = b & 0x80000000 and
// a = b & 0x7fffffff (RoundFP16's cases, selected in this order):
//   r = s | bits(float32(float32(a) + 0.5) - 0.5)         (a < 0x38800000)
//   r = s | ((a + 0xfff + ((a >> 13) & 1)) & ^0x1fff)      (a >= 0x38800000)
//   r = s | 0x7f800000                                     (a >= 0x477ff000)
//   r = 0x7fc00000                                         (a > 0x7f800000)
TEXT ·roundFP16AVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	MOVL $1, AX
	MOVD AX, X8
	VPBROADCASTD X8, Y8             // 1
	MOVL $0xfff, AX
	MOVD AX, X9
	VPBROADCASTD X9, Y9             // 0xfff
	MOVL $0xffffe000, AX
	MOVD AX, X10
	VPBROADCASTD X10, Y10           // ^0x1fff
	MOVL $0x7fffffff, AX
	MOVD AX, X11
	VPBROADCASTD X11, Y11           // 0x7fffffff
	MOVL $0x7f800000, AX
	MOVD AX, X12
	VPBROADCASTD X12, Y12           // 0x7f800000 (Inf; NaN threshold)
	MOVL $0x7fc00000, AX
	MOVD AX, X13
	VPBROADCASTD X13, Y13           // canonical NaN
	MOVL $0x387fffff, AX
	MOVD AX, X14
	VPBROADCASTD X14, Y14           // normal threshold - 1
	MOVL $0x477fefff, AX
	MOVD AX, X15
	VPBROADCASTD X15, Y15           // overflow threshold - 1
	MOVL $0x3f000000, AX
	MOVD AX, X7
	VPBROADCASTD X7, Y7             // 0.5

fp16loop:
	VMOVDQU (SI), Y0                // b
	VPAND Y11, Y0, Y2               // a
	VPXOR Y2, Y0, Y1                // s = b ^ a
	// subnormal case
	VADDPS Y7, Y2, Y3               // float32(a) + 0.5
	VSUBPS Y7, Y3, Y3               // - 0.5
	// normal case
	VPSRLD $13, Y2, Y4
	VPAND Y8, Y4, Y4                // (a >> 13) & 1
	VPADDD Y2, Y4, Y4
	VPADDD Y9, Y4, Y4               // a + 0xfff + lsb
	VPAND Y10, Y4, Y4               // & ^0x1fff
	VPCMPGTD Y14, Y2, Y5            // a >= 0x38800000
	VPBLENDVB Y5, Y4, Y3, Y3
	VPCMPGTD Y15, Y2, Y5            // a >= 0x477ff000
	VPBLENDVB Y5, Y12, Y3, Y3       // Inf
	VPOR Y1, Y3, Y3                 // | s
	VPCMPGTD Y12, Y2, Y5            // a > 0x7f800000
	VPBLENDVB Y5, Y13, Y3, Y3       // NaN
	VMOVDQU Y3, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ fp16loop
	VZEROUPPER
	RET
