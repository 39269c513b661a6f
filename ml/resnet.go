package ml

import (
	"fmt"
	"strconv"
	"strings"
)

// ResNetSpec is the ResNet part of a Spec (Kind "resnet").
type ResNetSpec struct {
	Block  string // "basic" or "bottleneck"
	Stages []int  // blocks per stage
	Stem   string // "cifar" (3x3 conv) or "imagenet" (7x7/2 conv + 3x3/2 max pool)
	Preset string // the preset name (resnet20, ...), "" for an explicit layout
}

// resnetPresets are the named ResNets: the CIFAR family of He et al. 2016
// (section 4.2: basic blocks, 3 stages of n blocks, widths 16/32/64, 3x3
// stem) and torchvision's ImageNet family (4 stages, widths 64..512, 7x7
// stem and max pool).
var resnetPresets = map[string]struct {
	block  string
	stages []int
	width  int
	stem   string
}{
	"resnet20":  {"basic", []int{3, 3, 3}, 16, "cifar"},
	"resnet32":  {"basic", []int{5, 5, 5}, 16, "cifar"},
	"resnet44":  {"basic", []int{7, 7, 7}, 16, "cifar"},
	"resnet56":  {"basic", []int{9, 9, 9}, 16, "cifar"},
	"resnet110": {"basic", []int{18, 18, 18}, 16, "cifar"},
	"resnet18":  {"basic", []int{2, 2, 2, 2}, 64, "imagenet"},
	"resnet34":  {"basic", []int{3, 4, 6, 3}, 64, "imagenet"},
	"resnet50":  {"bottleneck", []int{3, 4, 6, 3}, 64, "imagenet"},
	"resnet101": {"bottleneck", []int{3, 4, 23, 3}, 64, "imagenet"},
	"resnet152": {"bottleneck", []int{3, 8, 36, 3}, 64, "imagenet"},
}

// parseResNet parses the part of a resnet spec before the options:
// CxHxW-PRESET-CLASSES or CxHxW-BLOCK-D1.D2...-WIDTH-CLASSES.
func parseResNet(s *Spec, head string) error {
	usage := fmt.Errorf("%w %q: expected resnet:CxHxW-PRESET-CLASSES (e.g. resnet:3x32x32-resnet20-10) or resnet:CxHxW-basic|bottleneck-D1.D2...-WIDTH-CLASSES (e.g. resnet:3x32x32-basic-3.3.3-16-10)", ErrSpec, s.raw)
	f := strings.Split(head, "-")
	if len(f) != 3 && len(f) != 5 {
		return usage
	}
	in, err := atoiList(f[0], "x")
	if err != nil || len(in) != 3 {
		return usage
	}
	cl, err := atoiList(f[len(f)-1], "x")
	if err != nil || len(cl) != 1 {
		return usage
	}
	s.Input, s.Classes = in, cl[0]
	if len(f) == 3 {
		p, ok := resnetPresets[f[1]]
		if !ok {
			return fmt.Errorf("%w %q: unknown ResNet preset %q (resnet20, resnet32, resnet44, resnet56, resnet110, resnet18, resnet34, resnet50, resnet101, resnet152)", ErrSpec, s.raw, f[1])
		}
		s.Res = ResNetSpec{Block: p.block, Stages: append([]int(nil), p.stages...), Stem: p.stem, Preset: f[1]}
		s.Width = p.width
		return nil
	}
	if f[1] != "basic" && f[1] != "bottleneck" {
		return fmt.Errorf("%w %q: block %q, expected basic or bottleneck", ErrSpec, s.raw, f[1])
	}
	stages, err := atoiList(f[2], ".")
	if err != nil || len(stages) > 8 {
		return fmt.Errorf("%w %q: stages %q: expected 1 to 8 block counts separated by dots, e.g. 3.3.3", ErrSpec, s.raw, f[2])
	}
	w, err := strconv.Atoi(f[3])
	if err != nil || w < 1 || w > 1<<16 {
		return fmt.Errorf("%w %q: width %q, expected a positive integer", ErrSpec, s.raw, f[3])
	}
	stem := "cifar"
	if len(stages) >= 4 {
		stem = "imagenet"
	}
	s.Res = ResNetSpec{Block: f[1], Stages: stages, Stem: stem}
	s.Width = w
	return nil
}

// resnetOption applies a resnet-only option; ok is false for unknown ones.
func resnetOption(s *Spec, k, v string) (ok bool, err error) {
	if k == "stem" && (v == "cifar" || v == "imagenet") {
		s.Res.Stem = v
		return true, nil
	}
	return false, nil
}

// widthOption parses ",width=M" (cnn and resnet): the multiplier of every
// channel width.
func widthOption(s *Spec, v string) error {
	m, err := strconv.Atoi(v)
	if err != nil || m < 1 || m > 64 {
		return fmt.Errorf("width multiplier %q, expected an integer in 1..64", v)
	}
	s.WidthMul = m
	return nil
}

// newResBlock returns one residual block with torchvision's names
// (name.conv1, name.bn1, ..., name.downsample.0/1) and its output
// channels. Basic: conv3x3(stride)-BN-ReLU-conv3x3-BN, out = planes.
// Bottleneck (torchvision v1.5, stride on the 3x3): conv1x1-BN-ReLU-
// conv3x3(stride)-BN-ReLU-conv1x1-BN, out = 4·planes. The shortcut is the
// identity, or (stride != 1 or a channel change) a 1x1 convolution with
// the stride followed by BatchNorm (option B). Convolutions have no bias.
func newResBlock(block, name string, in, planes, stride int, seed uint64, next func() int) (*Residual, int) {
	conv := func(n string, ci, co, k, s int) *Conv2d {
		return NewConv2dNoBias(name+"."+n, ci, co, k, s, k/2, seed, next())
	}
	bn := func(n string, c int) *Norm { return NewBatchNorm(name+"."+n, c) }
	relu := func() Layer { return &Activation{Kind: "relu"} }
	r := &Residual{}
	out := planes
	if block == "basic" {
		r.Main = []Layer{conv("conv1", in, planes, 3, stride), bn("bn1", planes), relu(),
			conv("conv2", planes, planes, 3, 1), bn("bn2", planes)}
	} else {
		out = 4 * planes
		r.Main = []Layer{conv("conv1", in, planes, 1, 1), bn("bn1", planes), relu(),
			conv("conv2", planes, planes, 3, stride), bn("bn2", planes), relu(),
			conv("conv3", planes, out, 1, 1), bn("bn3", out)}
	}
	if stride != 1 || in != out {
		r.Shortcut = []Layer{conv("downsample.0", in, out, 1, stride), bn("downsample.1", out)}
	}
	return r, out
}

// newBottleneck is newResBlock for a bottleneck block with consecutive
// initialisation indices from idx0 (tests).
func newBottleneck(name string, in, planes, stride int, seed uint64, idx0 int) *Residual {
	next := func() int { idx0++; return idx0 - 1 }
	r, _ := newResBlock("bottleneck", name, in, planes, stride, seed, next)
	return r
}

// buildResNet appends the ResNet layers of s to m: the stem (conv1, bn1,
// ReLU, and for the ImageNet stem the 3x3/2 max pool with padding 1),
// stage i (torchvision's layer{i+1}) of Stages[i] blocks with
// planes = WIDTH·M·2^i and stride 2 in its first block for i > 0, global
// average pooling and the Linear classifier fc.
func buildResNet(m *Model, s Spec, seed uint64, next func() int) error {
	if s.Dropout > 0 {
		return fmt.Errorf("%w %q: dropout is not an option of resnet", ErrSpec, s.raw)
	}
	w := s.Width * max(1, s.WidthMul)
	m.InShape = append([]int(nil), s.Input...)
	if s.Res.Stem == "imagenet" {
		m.Layers = append(m.Layers, NewConv2dNoBias("conv1", s.Input[0], w, 7, 2, 3, seed, next()),
			NewBatchNorm("bn1", w), &Activation{Kind: "relu"}, &MaxPool{K: 3, S: 2, P: 1})
	} else {
		m.Layers = append(m.Layers, NewConv2dNoBias("conv1", s.Input[0], w, 3, 1, 1, seed, next()),
			NewBatchNorm("bn1", w), &Activation{Kind: "relu"})
	}
	ch := w
	for i, n := range s.Res.Stages {
		planes := w << i
		for b := 0; b < n; b++ {
			stride := 1
			if i > 0 && b == 0 {
				stride = 2
			}
			var blk *Residual
			blk, ch = newResBlock(s.Res.Block, fmt.Sprintf("layer%d.%d", i+1, b), ch, planes, stride, seed, next)
			m.Layers = append(m.Layers, blk)
		}
	}
	m.Layers = append(m.Layers, &GlobalAvgPool{}, NewLinear("fc", ch, s.Classes, seed, next()))
	return nil
}
