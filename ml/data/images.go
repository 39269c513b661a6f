package data

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // JPEG decoder
	_ "image/png"  // PNG decoder
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// ImageOptions says how to read an image folder.
type ImageOptions struct {
	Width, Height int  // output size; both default to 32
	Gray          bool // one channel (ITU-R 601 luma, as image/color) instead of RGB
}

func (o *ImageOptions) defaults() error {
	if o.Width == 0 {
		o.Width = 32
	}
	if o.Height == 0 {
		o.Height = 32
	}
	if o.Width < 1 || o.Height < 1 || o.Width > 4096 || o.Height > 4096 {
		return fmt.Errorf("%w: image size %dx%d, expected 1..4096 each", ErrOptions, o.Width, o.Height)
	}
	return nil
}

// LoadImageFolder reads DIR/<class>/<file> images: classes are the
// subfolder names in byte order, files within a class in byte order of
// their names. Every regular file not starting with '.' must decode as PNG
// or JPEG, else the error names it. Images are resized to Width x Height by
// bilinear interpolation in 16.16 fixed point (integer arithmetic, pixel
// centres aligned), converted to gray or RGB (alpha ignored), and stored
// channel-first: shape [1 or 3, Height, Width], uint8. No official split.
func LoadImageFolder(dir string, opt ImageOptions) (*Dataset, []string, error) {
	if err := opt.defaults(); err != nil {
		return nil, nil, err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrSource, err)
	}
	var classes []string
	for _, e := range ents {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			classes = append(classes, e.Name())
		}
	}
	sort.Strings(classes)
	if len(classes) == 0 {
		return nil, nil, fmt.Errorf("%w: %s: no class subfolders, expected DIR/<class>/<image>", ErrSource, dir)
	}
	ch := 3
	if opt.Gray {
		ch = 1
	}
	d := &Dataset{DType: Uint8, Shape: []int{ch, opt.Height, opt.Width}, Classes: len(classes), ClassNames: classes}
	var files []string
	for c, cls := range classes {
		fs, err := os.ReadDir(filepath.Join(dir, cls))
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %v", ErrSource, err)
		}
		names := make([]string, 0, len(fs))
		for _, f := range fs {
			if f.Type().IsRegular() && !strings.HasPrefix(f.Name(), ".") {
				names = append(names, f.Name())
			}
		}
		sort.Strings(names)
		for _, n := range names {
			files = append(files, filepath.Join(dir, cls, n))
			d.Labels = append(d.Labels, c)
		}
	}
	if len(files) == 0 {
		return nil, nil, fmt.Errorf("%w: %s: class folders hold no images, expected PNG or JPEG files", ErrSource, dir)
	}
	// Decode in parallel; every image lands in its own slot, so the bytes
	// do not depend on the worker count. The reported error is the first
	// bad file in listing order.
	dim := d.Dim()
	d.U8 = make([]byte, len(files)*dim)
	errs := make([]error, len(files))
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < min(runtime.GOMAXPROCS(0), len(files)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(files) {
					return
				}
				b, err := os.ReadFile(files[i])
				if err != nil {
					errs[i] = fmt.Errorf("%w: %v", ErrSource, err)
					continue
				}
				px, err := DecodeImage(files[i], b, opt)
				if err != nil {
					errs[i] = err
					continue
				}
				copy(d.U8[i*dim:], px)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, nil, err
		}
	}
	d.Split = make([]uint8, len(d.Labels))
	return d, files, nil
}

// DecodeImage decodes one PNG or JPEG and returns its resized channel-first
// pixels. name (the path) is used in errors.
func DecodeImage(name string, b []byte, opt ImageOptions) ([]byte, error) {
	if err := opt.defaults(); err != nil {
		return nil, err
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: not an image (%v), expected PNG or JPEG", ErrSource, name, err)
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width*cfg.Height > 1<<26 {
		return nil, fmt.Errorf("%w: %s: %s of %dx%d, expected 1..2^26 pixels", ErrSource, name, format, cfg.Width, cfg.Height)
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: corrupt %s (%v)", ErrSource, name, format, err)
	}
	src, w, h := planes(img)
	ch := 3
	if opt.Gray {
		ch = 1
		gray := make([]byte, w*h)
		for i := range gray {
			r, g, bb := uint32(src[0][i]), uint32(src[1][i]), uint32(src[2][i])
			// image/color's Gray model on 8-bit values
			gray[i] = uint8((19595*r*257 + 38470*g*257 + 7471*bb*257 + 1<<15) >> 24)
		}
		src = [3][]byte{gray}
	}
	out := make([]byte, ch*opt.Width*opt.Height)
	for c := 0; c < ch; c++ {
		resize(out[c*opt.Width*opt.Height:(c+1)*opt.Width*opt.Height], opt.Width, opt.Height, src[c], w, h)
	}
	return out, nil
}

// planes returns the R, G, B planes of img, reading pixel buffers directly
// for the common decoder outputs.
func planes(img image.Image) ([3][]byte, int, int) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	var p [3][]byte
	for c := range p {
		p[c] = make([]byte, w*h)
	}
	switch m := img.(type) {
	case *image.Gray:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+w]
			copy(p[0][y*w:], row)
			copy(p[1][y*w:], row)
			copy(p[2][y*w:], row)
		}
	case *image.YCbCr:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				yi := m.YOffset(b.Min.X+x, b.Min.Y+y)
				ci := m.COffset(b.Min.X+x, b.Min.Y+y)
				r, g, bb := color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
				p[0][y*w+x], p[1][y*w+x], p[2][y*w+x] = r, g, bb
			}
		}
	case *image.RGBA:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				o := y*m.Stride + 4*x
				p[0][y*w+x], p[1][y*w+x], p[2][y*w+x] = m.Pix[o], m.Pix[o+1], m.Pix[o+2]
			}
		}
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				o := y*m.Stride + 4*x
				p[0][y*w+x], p[1][y*w+x], p[2][y*w+x] = m.Pix[o], m.Pix[o+1], m.Pix[o+2]
			}
		}
	default:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				c := color.NRGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
				p[0][y*w+x], p[1][y*w+x], p[2][y*w+x] = c.R, c.G, c.B
			}
		}
	}
	return p, w, h
}

// resize samples src (sw x sh) into dst (dw x dh) bilinearly. Source
// coordinate of output pixel x: ((2x+1)*sw - dw) / (2*dw), in 16.16 fixed
// point, clamped to the image. Integer arithmetic only.
func resize(dst []byte, dw, dh int, src []byte, sw, sh int) {
	if dw == sw && dh == sh {
		copy(dst, src)
		return
	}
	coord := func(o, dn, sn int) (int, int, uint64) {
		num := int64(2*o+1)*int64(sn) - int64(dn)
		if num < 0 {
			num = 0
		}
		fx := num * 65536 / int64(2*dn)
		i0 := int(fx >> 16)
		f := uint64(fx & 0xffff)
		if i0 >= sn-1 {
			return sn - 1, sn - 1, 0
		}
		return i0, i0 + 1, f
	}
	xs0 := make([]int, dw)
	xs1 := make([]int, dw)
	xf := make([]uint64, dw)
	for x := 0; x < dw; x++ {
		xs0[x], xs1[x], xf[x] = coord(x, dw, sw)
	}
	for y := 0; y < dh; y++ {
		y0, y1, fy := coord(y, dh, sh)
		r0, r1 := src[y0*sw:], src[y1*sw:]
		for x := 0; x < dw; x++ {
			fx := xf[x]
			top := uint64(r0[xs0[x]])*(65536-fx) + uint64(r0[xs1[x]])*fx
			bot := uint64(r1[xs0[x]])*(65536-fx) + uint64(r1[xs1[x]])*fx
			dst[y*dw+x] = uint8((top*(65536-fy) + bot*fy + 1<<31) >> 32)
		}
	}
}
