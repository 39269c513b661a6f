package cpu

// microKernel describes one assembly microkernel: it computes an mr x nr
// tile from panels packed as pa[p*mr+i] = A(i,p) and pb[p*nr+j] = B(p,j),
// running every output's FMA chain in increasing p, starting from the
// stored C value when accum is set and from 0 otherwise.
//
// A kernel with axpy instead of fn (arm64 NEON) is a row kernel:
// axpy(acc, a, b) sets acc[j] = FMA32(a, b[j], acc[j]) and the row-wise
// GEMM (gemmGoRows) drives it.
type microKernel struct {
	name   string
	mr, nr int
	fn     func(kc int, a, b, c *float32, ldb, ldc int, accum bool)
	axpy   func(acc []float32, a float32, b []float32)
}

// kc is the p-block length: a block's accumulators are stored to C and
// reloaded for the next block, which continues the same chain.
const kcBlock = 256

func (b *Backend) getBuf(n int) *[]float32 {
	if v := b.pool.Get(); v != nil {
		p := v.(*[]float32)
		if cap(*p) >= n {
			*p = (*p)[:n]
			return p
		}
	}
	s := make([]float32, n)
	return &s
}

// mcBlock is the number of rows of A packed together; each B micro-panel
// (kc x nr, L1-sized) is reused across them.
const mcBlock = 64

func (b *Backend) gemmPacked(kern *microKernel, transA, transB bool, m, n, k int, a []float32, lda int, bm []float32, ldb int, c []float32, ldc int) {
	mr, nr := kern.mr, kern.nr
	np := (n + nr - 1) / nr
	mc := mcBlock / mr * mr
	mb := (m + mc - 1) / mc
	// A row-major B is read in place when few row panels reuse it (packing
	// would cost as much as it saves); otherwise it is packed, which also
	// avoids cache-set conflicts from power-of-two strides.
	packFrom := 0
	if !transB && m <= 2*mr {
		packFrom = n / nr
	}
	bufB := b.getBuf(np * nr * min(k, kcBlock))
	defer b.pool.Put(bufB)
	pb := *bufB
	for p0 := 0; p0 < k; p0 += kcBlock {
		kc := min(kcBlock, k-p0)
		b.parallel(np-packFrom, func(lo, hi int) {
			for jp := lo + packFrom; jp < hi+packFrom; jp++ {
				packB(pb[jp*kc*nr:(jp+1)*kc*nr], transB, bm, ldb, p0, kc, jp*nr, min(nr, n-jp*nr), nr)
			}
		})
		accum := p0 > 0
		// Work items: a block of rows x a chunk of column panels.
		chunks := 1
		if mb < 2*b.threads {
			chunks = min(np, 2*b.threads)
		}
		b.parallel(mb*chunks, func(lo, hi int) {
			bufA := b.getBuf(mc*kc + mr*nr)
			defer b.pool.Put(bufA)
			pa := (*bufA)[:mc*kc]
			tmp := (*bufA)[mc*kc:]
			lastBlock := -1
			for it := lo; it < hi; it++ {
				blk, ch := it/chunks, it%chunks
				i0 := blk * mc
				rowsBlk := min(mc, m-i0)
				nmp := (rowsBlk + mr - 1) / mr
				if blk != lastBlock {
					for ir := 0; ir < nmp; ir++ {
						packA(pa[ir*mr*kc:(ir+1)*mr*kc], transA, a, lda, i0+ir*mr, min(mr, rowsBlk-ir*mr), p0, kc, mr)
					}
					lastBlock = blk
				}
				j0, j1 := np*ch/chunks, np*(ch+1)/chunks
				for jp := j0; jp < j1; jp++ {
					jc := jp * nr
					width := min(nr, n-jc)
					var bp *float32
					bld := nr
					if jp < packFrom {
						bp, bld = &bm[p0*ldb+jc], ldb
					} else {
						bp = &pb[jp*kc*nr]
					}
					for ir := 0; ir < nmp; ir++ {
						ri := i0 + ir*mr
						rows := min(mr, m-ri)
						ap := &pa[ir*mr*kc]
						if rows == mr && width == nr {
							kern.fn(kc, ap, bp, &c[ri*ldc+jc], bld, ldc, accum)
							continue
						}
						if accum {
							for i := 0; i < rows; i++ {
								copy(tmp[i*nr:i*nr+width], c[(ri+i)*ldc+jc:])
							}
						}
						kern.fn(kc, ap, bp, &tmp[0], bld, nr, accum)
						for i := 0; i < rows; i++ {
							copy(c[(ri+i)*ldc+jc:(ri+i)*ldc+jc+width], tmp[i*nr:i*nr+width])
						}
					}
				}
			}
		})
	}
}

// packA writes pa[p*mr+i] = opA(i0+i, p0+p) for i < rows, zero for the
// padding rows.
func packA(pa []float32, transA bool, a []float32, lda, i0, rows, p0, kc, mr int) {
	pa = pa[:kc*mr]
	if transA {
		for p := 0; p < kc; p++ {
			src := a[(p0+p)*lda+i0:]
			dst := pa[p*mr : p*mr+mr]
			copy(dst, src[:rows])
			clear(dst[rows:])
		}
		return
	}
	if rows == 8 && mr == 8 {
		// Eight read streams, sequential writes.
		r0 := a[(i0+0)*lda+p0 : (i0+0)*lda+p0+kc]
		r1 := a[(i0+1)*lda+p0 : (i0+1)*lda+p0+kc]
		r2 := a[(i0+2)*lda+p0 : (i0+2)*lda+p0+kc]
		r3 := a[(i0+3)*lda+p0 : (i0+3)*lda+p0+kc]
		r4 := a[(i0+4)*lda+p0 : (i0+4)*lda+p0+kc]
		r5 := a[(i0+5)*lda+p0 : (i0+5)*lda+p0+kc]
		r6 := a[(i0+6)*lda+p0 : (i0+6)*lda+p0+kc]
		r7 := a[(i0+7)*lda+p0 : (i0+7)*lda+p0+kc]
		for p := range r0 {
			d := pa[p*8 : p*8+8 : p*8+8]
			d[0], d[1], d[2], d[3] = r0[p], r1[p], r2[p], r3[p]
			d[4], d[5], d[6], d[7] = r4[p], r5[p], r6[p], r7[p]
		}
		return
	}
	for i := 0; i < mr; i++ {
		if i >= rows {
			for p := 0; p < kc; p++ {
				pa[p*mr+i] = 0
			}
			continue
		}
		src := a[(i0+i)*lda+p0 : (i0+i)*lda+p0+kc]
		for p, v := range src {
			pa[p*mr+i] = v
		}
	}
}

// packB writes pb[p*nr+j] = opB(p0+p, j0+j) for j < width, zero padding.
func packB(pb []float32, transB bool, b []float32, ldb, p0, kc, j0, width, nr int) {
	pb = pb[:kc*nr]
	if !transB {
		for p := 0; p < kc; p++ {
			dst := pb[p*nr : p*nr+nr]
			copy(dst, b[(p0+p)*ldb+j0:(p0+p)*ldb+j0+width])
			clear(dst[width:])
		}
		return
	}
	j := 0
	// 16x16 blocks by register transpose where available.
	if kc >= 16 {
		for ; j+16 <= width; j += 16 {
			p := 0
			src := b[(j0+j)*ldb+p0:]
			for ; p+16 <= kc; p += 16 {
				if !transpose16(pb[p*nr+j:], nr, src[p:], ldb) {
					break
				}
			}
			for ; p < kc; p++ {
				for jj := 0; jj < 16; jj++ {
					pb[p*nr+j+jj] = src[jj*ldb+p]
				}
			}
		}
	}
	// Eight, then four read streams at a time: 32- and 16-byte writes.
	for ; j+8 <= width; j += 8 {
		s0 := b[(j0+j+0)*ldb+p0 : (j0+j+0)*ldb+p0+kc]
		s1 := b[(j0+j+1)*ldb+p0 : (j0+j+1)*ldb+p0+kc]
		s2 := b[(j0+j+2)*ldb+p0 : (j0+j+2)*ldb+p0+kc]
		s3 := b[(j0+j+3)*ldb+p0 : (j0+j+3)*ldb+p0+kc]
		s4 := b[(j0+j+4)*ldb+p0 : (j0+j+4)*ldb+p0+kc]
		s5 := b[(j0+j+5)*ldb+p0 : (j0+j+5)*ldb+p0+kc]
		s6 := b[(j0+j+6)*ldb+p0 : (j0+j+6)*ldb+p0+kc]
		s7 := b[(j0+j+7)*ldb+p0 : (j0+j+7)*ldb+p0+kc]
		for p := range s0 {
			d := pb[p*nr+j : p*nr+j+8 : p*nr+j+8]
			d[0], d[1], d[2], d[3] = s0[p], s1[p], s2[p], s3[p]
			d[4], d[5], d[6], d[7] = s4[p], s5[p], s6[p], s7[p]
		}
	}
	for ; j+4 <= width; j += 4 {
		s0 := b[(j0+j+0)*ldb+p0 : (j0+j+0)*ldb+p0+kc]
		s1 := b[(j0+j+1)*ldb+p0 : (j0+j+1)*ldb+p0+kc]
		s2 := b[(j0+j+2)*ldb+p0 : (j0+j+2)*ldb+p0+kc]
		s3 := b[(j0+j+3)*ldb+p0 : (j0+j+3)*ldb+p0+kc]
		for p := range s0 {
			d := pb[p*nr+j : p*nr+j+4 : p*nr+j+4]
			d[0], d[1], d[2], d[3] = s0[p], s1[p], s2[p], s3[p]
		}
	}
	for ; j < nr; j++ {
		if j >= width {
			for p := 0; p < kc; p++ {
				pb[p*nr+j] = 0
			}
			continue
		}
		src := b[(j0+j)*ldb+p0 : (j0+j)*ldb+p0+kc]
		for p, v := range src {
			pb[p*nr+j] = v
		}
	}
}
