//go:build amd64 && !purego

#include "textflag.h"

// func erfAVX512(dst, src *float32, n int, coef *float64)
//
// n > 0, a multiple of 32; coef is erfCoef (72 float64). Per lane, in
// float64, exactly Erf32's operations for a non-NaN x (erf_amd64.go):
//   a = |x|, z = a*a
//   H = Horner(coef[:18], z)  (a < 1)
//       Horner(coef[:34], z)  (1 <= a < 2)
//       Horner(coef[:72], z)  (2 <= a < 4)
//   t = (twoDSP*a) * H, t = 1 for a >= 4; t = -t for x < 0; float32(t)
// A Horner step is H = (H*z) + c: a multiply, then an add (never fused).
// Four blocks of 8 lanes run the common a < 1 polynomial interleaved; a
// block with any lane at a >= 1 evaluates the longer polynomials too and
// takes them for those lanes (merge masking). NaN lanes are left to the
// caller.

// Constants: Z24 = 1.0, Z25 = 2.0, Z26 = 4.0, Z27 = twoDSP, Z28 = abs mask,
// Z29 = sign mask, Z30 = 0.0. Z31 holds the broadcast coefficient.

#define HSTEP4(k) \
	VBROADCASTSD (k*8)(R8), Z31 \
	VMULPD Z8, Z12, Z12 \
	VMULPD Z9, Z13, Z13 \
	VMULPD Z10, Z14, Z14 \
	VMULPD Z11, Z15, Z15 \
	VADDPD Z31, Z12, Z12 \
	VADDPD Z31, Z13, Z13 \
	VADDPD Z31, Z14, Z14 \
	VADDPD Z31, Z15, Z15

// HORNER1(top, zreg, hreg, lbl): hreg = Horner(coef[:top+1], zreg), one
// block (lbl: the loop's label, unique per use).
#define HORNER1(top, zreg, hreg, lbl) \
	MOVQ $top, AX \
	VBROADCASTSD (R8)(AX*8), hreg \
	DECQ AX \
lbl: \
	VBROADCASTSD (R8)(AX*8), Z31 \
	VMULPD zreg, hreg, hreg \
	VADDPD Z31, hreg, hreg \
	DECQ AX \
	JGE lbl

// FINISH(x, a, z, h, out, l1, l2, lshort): the long polynomials where a
// block needs them, then t, its sign, float32 and the store at out (l1,
// l2, lshort: labels unique per use).
#define FINISH(x, a, z, h, out, l1, l2, lshort) \
	VCMPPD $1, Z24, a, K1 \
	KORTESTB K1, K1 \
	JCS lshort \
	HORNER1(33, z, Z16, l1) \
	KNOTB K1, K2 \
	VMOVAPD Z16, K2, h \
	VCMPPD $1, Z25, a, K1 \
	KORTESTB K1, K1 \
	JCS lshort \
	HORNER1(71, z, Z17, l2) \
	KNOTB K1, K2 \
	VMOVAPD Z17, K2, h \
lshort: \
	VMULPD Z27, a, Z18 \
	VMULPD h, Z18, Z18 \
	VCMPPD $1, Z26, a, K1 \
	KNOTB K1, K2 \
	VMOVAPD Z24, K2, Z18 \
	VCMPPD $1, Z30, x, K3 \
	VPXORQ Z29, Z18, K3, Z18 \
	VCVTPD2PS Z18, Y19 \
	VMOVUPS Y19, out

TEXT ·erfAVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ coef+24(FP), R8
	MOVQ $0x3ff0000000000000, AX // 1.0
	VPBROADCASTQ AX, Z24
	MOVQ $0x4000000000000000, AX // 2.0
	VPBROADCASTQ AX, Z25
	MOVQ $0x4010000000000000, AX // 4.0
	VPBROADCASTQ AX, Z26
	MOVQ $0x3ff20dd750429b6d, AX // twoDSP = 1.1283791670955126
	VPBROADCASTQ AX, Z27
	MOVQ $0x7fffffffffffffff, AX
	VPBROADCASTQ AX, Z28
	MOVQ $-9223372036854775808, AX
	VPBROADCASTQ AX, Z29
	VPXORQ Z30, Z30, Z30

loop:
	VCVTPS2PD (SI), Z0
	VCVTPS2PD 32(SI), Z1
	VCVTPS2PD 64(SI), Z2
	VCVTPS2PD 96(SI), Z3
	VPANDQ Z28, Z0, Z4
	VPANDQ Z28, Z1, Z5
	VPANDQ Z28, Z2, Z6
	VPANDQ Z28, Z3, Z7
	VMULPD Z4, Z4, Z8
	VMULPD Z5, Z5, Z9
	VMULPD Z6, Z6, Z10
	VMULPD Z7, Z7, Z11
	VBROADCASTSD (17*8)(R8), Z12
	VMOVAPD Z12, Z13
	VMOVAPD Z12, Z14
	VMOVAPD Z12, Z15
	HSTEP4(16)
	HSTEP4(15)
	HSTEP4(14)
	HSTEP4(13)
	HSTEP4(12)
	HSTEP4(11)
	HSTEP4(10)
	HSTEP4(9)
	HSTEP4(8)
	HSTEP4(7)
	HSTEP4(6)
	HSTEP4(5)
	HSTEP4(4)
	HSTEP4(3)
	HSTEP4(2)
	HSTEP4(1)
	HSTEP4(0)
	FINISH(Z0, Z4, Z8, Z12, (DI), mid0, long0, short0)
	FINISH(Z1, Z5, Z9, Z13, 32(DI), mid1, long1, short1)
	FINISH(Z2, Z6, Z10, Z14, 64(DI), mid2, long2, short2)
	FINISH(Z3, Z7, Z11, Z15, 96(DI), mid3, long3, short3)
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $32, CX
	JNZ loop
	VZEROUPPER
	RET
