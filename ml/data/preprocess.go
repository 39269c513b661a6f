package data

import (
	"fmt"
	"math"
	"math/big"
)

// Step records one preprocessing step in the metadata.
type Step struct {
	Op       string    `json:"op"` // "to_float32" or "normalize"
	Scale    string    `json:"scale,omitempty"`
	Channels int       `json:"channels,omitempty"`
	Mean     []float64 `json:"mean,omitempty"`
	Std      []float64 `json:"std,omitempty"`
	Split    string    `json:"stats_from,omitempty"`
}

// ToFloat32 converts uint8 samples to float32 x/255, each value
// float32(float64(x)/255) (one correctly rounded division, then rounding
// to float32). A float32 dataset is returned unchanged.
func ToFloat32(d *Dataset) Step {
	if d.DType == Float32 {
		return Step{Op: "to_float32", Scale: "none"}
	}
	var lut [256]float32
	for i := range lut {
		lut[i] = float32(float64(i) / 255)
	}
	f := make([]float32, len(d.U8))
	for i, v := range d.U8 {
		f[i] = lut[v]
	}
	d.F32, d.U8, d.DType = f, nil, Float32
	return Step{Op: "to_float32", Scale: "x/255"}
}

// channelsOf returns the number of channels and elements per channel.
func channelsOf(shape []int) (int, int) {
	switch len(shape) {
	case 1:
		return shape[0], 1
	case 3:
		return shape[0], shape[1] * shape[2]
	}
	return 1, shapeSize(shape)
}

// Normalize standardises every channel with the mean and (population)
// standard deviation of that channel over the training split only, and
// returns the recorded statistics. The result is float32. See the package
// doc for the exact arithmetic.
func Normalize(d *Dataset) (Step, error) {
	train := d.Indices(Train)
	if len(train) == 0 {
		return Step{}, fmt.Errorf("%w: normalisation needs training samples, the split has none", ErrOptions)
	}
	nch, per := channelsOf(d.Shape)
	dim := d.Dim()
	mean := make([]float64, nch)
	std := make([]float64, nch)
	if d.DType == Uint8 {
		sum := make([]uint64, nch)
		sq := make([]uint64, nch)
		for _, i := range train {
			s := d.U8[i*dim : (i+1)*dim]
			for c := 0; c < nch; c++ {
				var a, b uint64
				for _, v := range s[c*per : (c+1)*per] {
					a += uint64(v)
					b += uint64(v) * uint64(v)
				}
				sum[c] += a
				sq[c] += b
			}
		}
		m := new(big.Int).SetUint64(uint64(len(train)) * uint64(per))
		for c := 0; c < nch; c++ {
			// mean = sum/m ; var = (m*sq - sum^2) / m^2, exactly, then rounded once
			mean[c], _ = new(big.Rat).SetFrac(new(big.Int).SetUint64(sum[c]), m).Float64()
			num := new(big.Int).Mul(m, new(big.Int).SetUint64(sq[c]))
			s2 := new(big.Int).SetUint64(sum[c])
			num.Sub(num, s2.Mul(s2, s2))
			v, _ := new(big.Rat).SetFrac(num, new(big.Int).Mul(m, m)).Float64()
			std[c] = math.Sqrt(v)
		}
	} else {
		m := float64(len(train) * per)
		for c := 0; c < nch; c++ {
			var s float64
			for _, i := range train {
				for _, v := range d.F32[i*dim+c*per : i*dim+(c+1)*per] {
					s += float64(v)
				}
			}
			mean[c] = s / m
			var q float64
			for _, i := range train {
				for _, v := range d.F32[i*dim+c*per : i*dim+(c+1)*per] {
					e := float64(v) - mean[c]
					q += float64(e * e) // explicit conversion: no fused multiply-add
				}
			}
			std[c] = math.Sqrt(q / m)
		}
	}
	div := make([]float64, nch)
	for c := range div {
		div[c] = std[c]
		if div[c] == 0 {
			div[c] = 1
		}
	}
	n := d.Len()
	out := make([]float32, n*dim)
	if d.DType == Uint8 {
		lut := make([][256]float32, nch)
		for c := range lut {
			for v := 0; v < 256; v++ {
				lut[c][v] = float32((float64(v) - mean[c]) / div[c])
			}
		}
		for i := 0; i < n; i++ {
			for c := 0; c < nch; c++ {
				o := i*dim + c*per
				for j, v := range d.U8[o : o+per] {
					out[o+j] = lut[c][v]
				}
			}
		}
	} else {
		for i := 0; i < n; i++ {
			for c := 0; c < nch; c++ {
				o := i*dim + c*per
				for j, v := range d.F32[o : o+per] {
					out[o+j] = float32((float64(v) - mean[c]) / div[c])
				}
			}
		}
	}
	for j := range out {
		if out[j] == 0 {
			out[j] = 0
		}
	}
	d.F32, d.U8, d.DType = out, nil, Float32
	return Step{Op: "normalize", Channels: nch, Mean: mean, Std: std, Split: "train"}, nil
}
