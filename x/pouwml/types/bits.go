package types

import "math/bits"

func bitsDiv(hi, lo, d uint64) (uint64, uint64) { return bits.Div64(hi, lo, d) }
