//go:build cuda || cudaemu

package cuda

// NormForward is ml.Norm's forward on the device, composed from the
// primitives of ops.go in ml's order. x, y and xhat have Groups·M values
// in x's layout (g: NormGeom); mean and rstd receive Groups values (kept
// for NormBackward). Statistics come from the batch when g is LayerNorm
// (SP = 0) or train is set, from rmean/rvar otherwise; with train and
// updateRunning (ml: training with a tape) BatchNorm's running statistics
// are updated with momentum mom.
func (b *Backend) NormForward(y, xhat, mean, rstd, x, gamma, beta, rmean, rvar *Buffer, g NormGeom, train, updateRunning bool, eps, mom float32) error {
	layer := g.SP == 0
	n := g.Groups * g.M
	mf := float32(g.M)
	if !layer && !train {
		if err := mean.Slice(0, g.Groups).CopyFrom(rmean.Slice(0, g.Groups)); err != nil {
			return err
		}
		if err := b.NormStats(NormRunning, rvar, nil, rstd, g.Groups, 1, eps); err != nil {
			return err
		}
		return b.NormApply(y, xhat, x, mean, rstd, gamma, beta, g)
	}
	v, err := b.AllocFor("norm statistics", n+2*g.Groups)
	if err != nil {
		return err
	}
	defer v.Free()
	vals, sq, variance := v.Slice(0, n), v.Slice(n, g.Groups), v.Slice(n+g.Groups, g.Groups)
	for _, step := range []func() error{
		func() error { return b.NormGather(vals, x, g) },
		func() error { return b.SumRows(mean, vals, g.Groups, g.M, g.M) },
		func() error { return b.NormStats(NormMean, mean, nil, nil, g.Groups, mf, eps) },
		func() error { return b.SumSqRows(sq, vals, mean, g.Groups, g.M, g.M) },
		func() error { return b.NormStats(NormVar, sq, variance, rstd, g.Groups, mf, eps) },
		func() error {
			if layer || !updateRunning {
				return nil
			}
			return b.BatchNormRunning(rmean, rvar, mean, variance, g.Groups, g.M, mom)
		},
		func() error { return b.NormApply(y, xhat, x, mean, rstd, gamma, beta, g) },
	} {
		if err := step(); err != nil {
			return err
		}
	}
	return b.Sync() // v is freed on return
}

// NormBackward is ml.Norm's backward: it adds the parameter gradients into
// dgamma and dbeta and, when dx is not nil, the input gradient into dx
// (x's layout), from dy, the forward's xhat and rstd, and gamma.
func (b *Backend) NormBackward(dx, dgamma, dbeta, dy, xhat, gamma, rstd *Buffer, g NormGeom) error {
	n := g.Groups * g.M
	tmp, err := b.AllocFor("norm backward", 2*n+2*g.Groups)
	if err != nil {
		return err
	}
	defer tmp.Free()
	gbuf, gx := tmp.Slice(0, n), tmp.Slice(n, n)
	sg, sgx := tmp.Slice(2*n, g.Groups), tmp.Slice(2*n+g.Groups, g.Groups)
	var steps []func() error
	if g.SP > 0 {
		steps = append(steps,
			func() error { return b.NormBackwardPrep(gbuf, gx, dy, xhat, nil, g) },
			func() error { return b.SumRows(sg, gbuf, g.Groups, g.M, g.M) },
			func() error { return b.SumRows(sgx, gx, g.Groups, g.M, g.M) },
			func() error { return b.Add(dbeta, sg) },
			func() error { return b.Add(dgamma, sgx) })
	} else {
		steps = append(steps, func() error { return b.LayerNormParamGrad(dgamma, dbeta, dy, xhat, g.Groups, g.M) })
	}
	if dx != nil {
		steps = append(steps,
			func() error { return b.NormBackwardPrep(gbuf, gx, dy, xhat, gamma, g) },
			func() error { return b.SumRows(sg, gbuf, g.Groups, g.M, g.M) },
			func() error { return b.SumRows(sgx, gx, g.Groups, g.M, g.M) },
			func() error { return b.NormBackwardDx(dx, rstd, gbuf, xhat, sg, sgx, g) })
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return b.Sync()
}
