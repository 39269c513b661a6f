package data

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// idxBytes builds an IDX file of unsigned bytes.
func idxBytes(dims []int, payload []byte) []byte {
	b := []byte{0, 0, 0x08, byte(len(dims))}
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, uint32(d))
	}
	return append(b, payload...)
}

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// writeMNISTDir writes a small MNIST-layout directory (n train, m test
// images of r x c) with deterministic contents.
func writeMNISTDir(t testing.TB, dir string, n, m, r, c int, gzipped bool) {
	t.Helper()
	for _, p := range []struct {
		pre string
		cnt int
	}{{"train", n}, {"t10k", m}} {
		imgs := make([]byte, p.cnt*r*c)
		for i := range imgs {
			imgs[i] = byte(i*7 + len(p.pre))
		}
		lbls := make([]byte, p.cnt)
		for i := range lbls {
			lbls[i] = byte((i * 3) % 10)
		}
		ib := idxBytes([]int{p.cnt, r, c}, imgs)
		lb := idxBytes([]int{p.cnt}, lbls)
		in, ln := p.pre+"-images-idx3-ubyte", p.pre+"-labels-idx1-ubyte"
		if gzipped {
			ib, lb, in, ln = gz(t, ib), gz(t, lb), in+".gz", ln+".gz"
		}
		must(t, os.WriteFile(filepath.Join(dir, in), ib, 0o644))
		must(t, os.WriteFile(filepath.Join(dir, ln), lb, 0o644))
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// cifarRecords builds n CIFAR records; hundred selects the CIFAR-100 layout.
func cifarRecords(n int, hundred bool, seed int) []byte {
	var b []byte
	for i := 0; i < n; i++ {
		if hundred {
			b = append(b, byte((i+seed)%20), byte((i*7+seed)%100))
		} else {
			b = append(b, byte((i+seed)%10))
		}
		for j := 0; j < cifarPixels; j++ {
			b = append(b, byte(i*31+j*13+seed))
		}
	}
	return b
}

// writeCIFAR writes the official layout (a top folder with the batch
// files and the names file) either as a folder under dir or as a .tar.gz;
// it returns the path to give the loader.
func writeCIFAR(t testing.TB, dir string, hundred, archive bool, perBatch int) string {
	t.Helper()
	files := map[string][]byte{}
	var order []string
	top := "cifar-10-batches-bin"
	if hundred {
		top = "cifar-100-binary"
		files["train.bin"] = cifarRecords(perBatch*2, true, 1)
		files["test.bin"] = cifarRecords(perBatch, true, 2)
		var fine, coarse bytes.Buffer
		for i := 0; i < 100; i++ {
			fine.WriteString("fine_" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + "\n")
		}
		for i := 0; i < 20; i++ {
			coarse.WriteString("coarse_" + string(rune('a'+i)) + "\n")
		}
		files["fine_label_names.txt"] = fine.Bytes()
		files["coarse_label_names.txt"] = coarse.Bytes()
		order = []string{"coarse_label_names.txt", "fine_label_names.txt", "test.bin", "train.bin"}
	} else {
		for i, f := range cifar10Train {
			files[f] = cifarRecords(perBatch, false, i)
			order = append(order, f)
		}
		files["test_batch.bin"] = cifarRecords(perBatch, false, 9)
		files["batches.meta.txt"] = []byte("airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n")
		order = append(order, "batches.meta.txt", "test_batch.bin")
	}
	if !archive {
		must(t, os.MkdirAll(filepath.Join(dir, top), 0o755))
		for _, f := range order {
			must(t, os.WriteFile(filepath.Join(dir, top, f), files[f], 0o644))
		}
		return dir
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	must(t, tw.WriteHeader(&tar.Header{Name: top + "/", Typeflag: tar.TypeDir, Mode: 0o755}))
	for _, f := range order {
		must(t, tw.WriteHeader(&tar.Header{Name: top + "/" + f, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(files[f]))}))
		_, err := tw.Write(files[f])
		must(t, err)
	}
	must(t, tw.Close())
	must(t, zw.Close())
	name := "cifar-10-binary.tar.gz"
	if hundred {
		name = "cifar-100-binary.tar.gz"
	}
	p := filepath.Join(dir, name)
	must(t, os.WriteFile(p, buf.Bytes(), 0o644))
	return p
}

// writeImageFolder writes classes a, b with PNG (RGBA, gray, paletted) and
// JPEG images of varying sizes.
func writeImageFolder(t testing.TB, dir string) {
	t.Helper()
	for ci, cls := range []string{"cat", "bird"} {
		must(t, os.MkdirAll(filepath.Join(dir, cls), 0o755))
		for k := 0; k < 4; k++ {
			w, h := 20+k*5, 16+k*3
			rgba := image.NewRGBA(image.Rect(0, 0, w, h))
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					rgba.Set(x, y, color.RGBA{uint8(x * 10), uint8(y * 12), uint8(ci*100 + k*20), 255})
				}
			}
			var buf bytes.Buffer
			var name string
			switch k {
			case 0:
				must(t, png.Encode(&buf, rgba))
				name = "a.png"
			case 1:
				g := image.NewGray(rgba.Bounds())
				for i := range g.Pix {
					g.Pix[i] = uint8(i * 3)
				}
				must(t, png.Encode(&buf, g))
				name = "b.PNG"
			case 2:
				must(t, jpeg.Encode(&buf, rgba, &jpeg.Options{Quality: 90}))
				name = "c.jpg"
			case 3:
				p := image.NewPaletted(rgba.Bounds(), color.Palette{color.Black, color.White, color.RGBA{200, 10, 10, 255}})
				for i := range p.Pix {
					p.Pix[i] = uint8(i % 3)
				}
				must(t, png.Encode(&buf, p))
				name = "d.png"
			}
			must(t, os.WriteFile(filepath.Join(dir, cls, name), buf.Bytes(), 0o644))
		}
	}
}
