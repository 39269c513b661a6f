//go:build arm64 && !purego

#include "textflag.h"

// func fmaAccNEON(acc *float32, b *float32, n int, a float32)
// acc[j] = fma(a, b[j], acc[j]) for j < n: FMLA (vector, 4 lanes) then
// FMADD (scalar) for the tail. Both are IEEE fused multiply-adds with one
// rounding (FPCR default: round to nearest even, no flush to zero), so each
// lane is one step of the canonical FMA32 chain.
TEXT ·fmaAccNEON(SB), NOSPLIT, $0-28
	MOVD  acc+0(FP), R0
	MOVD  b+8(FP), R1
	MOVD  n+16(FP), R2
	FMOVS a+24(FP), F0
	VDUP  V0.S[0], V0.S4

vec:
	CMP   $4, R2
	BLT   scalar
	VLD1  (R1), [V1.S4]
	VLD1  (R0), [V2.S4]
	VFMLA V0.S4, V1.S4, V2.S4
	VST1  [V2.S4], (R0)
	ADD   $16, R0
	ADD   $16, R1
	SUB   $4, R2
	B     vec

scalar:
	CBZ    R2, done
	FMOVS  (R1), F1
	FMOVS  (R0), F2
	FMADDS F0, F2, F1, F2
	FMOVS  F2, (R0)
	ADD    $4, R0
	ADD    $4, R1
	SUB    $1, R2
	B      scalar

done:
	RET
