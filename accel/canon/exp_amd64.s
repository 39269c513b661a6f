//go:build amd64 && !purego

#include "textflag.h"

// func expAVX512(dst, src *float32, n int, coef *float64)
//
// n > 0, a multiple of 32; coef is expCoef (14 float64). Per lane, in
// float64, exactly exp64's operations (canon.go) rounded to float32, for x
// in Exp32's polynomial range [-104, 89]:
//   n = floor((x*log2e) + 0.5)
//   r = (x - (n*ln2Hi)) - (n*ln2Lo)
//   y = Horner(coef, r)             (each step: a multiply, then an add)
//   e^x = y * 2^n                   (the exponent bits int64(n)+1023)
// Lanes outside that range or NaN are left to the caller. Four blocks of
// 8 lanes run interleaved.

// Constants: Z24 = log2e, Z25 = 0.5, Z26 = ln2Hi, Z27 = ln2Lo, Z28 = 1023
// (int64 lanes). Z31 holds the broadcast coefficient.

#define ESTEP4(k) \
	VBROADCASTSD (k*8)(R8), Z31 \
	VMULPD Z4, Z8, Z8 \
	VMULPD Z5, Z9, Z9 \
	VMULPD Z6, Z10, Z10 \
	VMULPD Z7, Z11, Z11 \
	VADDPD Z31, Z8, Z8 \
	VADDPD Z31, Z9, Z9 \
	VADDPD Z31, Z10, Z10 \
	VADDPD Z31, Z11, Z11

// REDUCE(x, nreg, r): nreg = floor(x*log2e + 0.5), r = (x - n*ln2Hi) - n*ln2Lo.
#define REDUCE(x, nreg, r) \
	VMULPD Z24, x, nreg \
	VADDPD Z25, nreg, nreg \
	VRNDSCALEPD $9, nreg, nreg \
	VMULPD Z26, nreg, Z20 \
	VSUBPD Z20, x, r \
	VMULPD Z27, nreg, Z20 \
	VSUBPD Z20, r, r

// SCALE(nreg, y, out): y * 2^n, rounded to float32, stored at out.
#define SCALE(nreg, y, out) \
	VCVTTPD2QQ nreg, Z21 \
	VPADDQ Z28, Z21, Z21 \
	VPSLLQ $52, Z21, Z21 \
	VMULPD Z21, y, y \
	VCVTPD2PS y, Y22 \
	VMOVUPS Y22, out

TEXT ·expAVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ coef+24(FP), R8
	MOVQ $0x3ff71547652b82fe, AX // log2e
	VPBROADCASTQ AX, Z24
	MOVQ $0x3fe0000000000000, AX // 0.5
	VPBROADCASTQ AX, Z25
	MOVQ $0x3fe62e42fee00000, AX // ln2Hi
	VPBROADCASTQ AX, Z26
	MOVQ $0x3dea39ef35793c76, AX // ln2Lo
	VPBROADCASTQ AX, Z27
	MOVQ $1023, AX
	VPBROADCASTQ AX, Z28

loop:
	VCVTPS2PD (SI), Z0
	VCVTPS2PD 32(SI), Z1
	VCVTPS2PD 64(SI), Z2
	VCVTPS2PD 96(SI), Z3
	REDUCE(Z0, Z12, Z4)
	REDUCE(Z1, Z13, Z5)
	REDUCE(Z2, Z14, Z6)
	REDUCE(Z3, Z15, Z7)
	VBROADCASTSD (13*8)(R8), Z8
	VMOVAPD Z8, Z9
	VMOVAPD Z8, Z10
	VMOVAPD Z8, Z11
	ESTEP4(12)
	ESTEP4(11)
	ESTEP4(10)
	ESTEP4(9)
	ESTEP4(8)
	ESTEP4(7)
	ESTEP4(6)
	ESTEP4(5)
	ESTEP4(4)
	ESTEP4(3)
	ESTEP4(2)
	ESTEP4(1)
	ESTEP4(0)
	SCALE(Z12, Z8, (DI))
	SCALE(Z13, Z9, 32(DI))
	SCALE(Z14, Z10, 64(DI))
	SCALE(Z15, Z11, 96(DI))
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $32, CX
	JNZ loop
	VZEROUPPER
	RET
