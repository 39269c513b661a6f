// Package canon defines pouwd's canonical float32 arithmetic: the exact
// operations that every backend (the pure-Go reference, the amd64 assembly
// kernels, the CUDA kernels of accel/cuda) must reproduce bit for bit.
//
// Rules that hold in this package and everywhere canonical arithmetic is
// written:
//
//   - Every float32 product that feeds an addition is either rounded on its
//     own (written float32(a*b), which forbids the Go compiler from fusing
//     it) or is an explicit exact fused multiply-add, FMA32. Which of the two
//     an operation uses is part of its definition and is stated in its doc
//     comment.
//   - Transcendental functions (Exp32, Log32, Tanh32, Erf32, SinCos32) are evaluated
//     from fixed polynomials in float64 with every product rounded on its
//     own, then rounded once to float32. IEEE-754 float64 add, sub, mul, div
//     and sqrt are correctly rounded on every platform Go supports, so the
//     result has the same bits everywhere. The guaranteed error bound is
//     stated on each function (the tests check it against math/big over
//     many inputs).
//   - Reductions use the fixed tree of Sum.
//
// This package must never call math functions whose bits may differ between
// platforms (math.Exp, math.Log, math.Tanh, math.Erf, math.Pow, ...), never
// let the compiler choose between fused and unfused arithmetic, and never
// depend on goroutine scheduling.
package canon
