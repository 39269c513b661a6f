package p2pcmd

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/pouw/pouwd/ml/data"
	"github.com/pouw/pouwd/p2p"
	"github.com/pouw/pouwd/x/pouwml/types"
)

var formats = map[string]types.DatasetFormat{
	data.KindMNIST:        types.DATASET_FORMAT_MNIST,
	data.KindFashionMNIST: types.DATASET_FORMAT_FASHION_MNIST,
	data.KindCIFAR10:      types.DATASET_FORMAT_CIFAR10,
	data.KindCIFAR100:     types.DATASET_FORMAT_CIFAR100,
	data.KindCSV:          types.DATASET_FORMAT_CSV,
	data.KindHDF5:         types.DATASET_FORMAT_HDF5,
	data.KindImages:       types.DATASET_FORMAT_IMAGES,
	data.KindText:         types.DATASET_FORMAT_TEXT,
}

// FormatOf maps meta.json's source kind to the chain's dataset format.
func FormatOf(source string) (types.DatasetFormat, error) {
	f, ok := formats[source]
	if !ok {
		return 0, fmt.Errorf("p2pcmd: dataset source %q has no chain format", source)
	}
	return f, nil
}

func sourceOf(f types.DatasetFormat) string {
	for k, v := range formats {
		if v == f {
			return k
		}
	}
	return ""
}

// RegisterDatasetMsg builds MsgRegisterDataset for a prepared dataset's
// metadata and its encoding.
func RegisterDatasetMsg(owner string, m *data.Meta, enc *p2p.Encoded, providers []string) (*types.MsgRegisterDataset, error) {
	format, err := FormatOf(m.Source)
	if err != nil {
		return nil, err
	}
	sum, err := hex.DecodeString(m.SHA256)
	if err != nil || len(sum) != 32 {
		return nil, fmt.Errorf("p2pcmd: meta.json sha256 %q is not 32 hex bytes", m.SHA256)
	}
	if uint64(m.Bytes) != enc.Erasure.OriginalSize {
		return nil, fmt.Errorf("p2pcmd: meta.json says %d bytes, encoded %d", m.Bytes, enc.Erasure.OriginalSize)
	}
	name := m.Name
	if name == "" {
		name = m.Source
	}
	msg := &types.MsgRegisterDataset{Owner: owner, Name: name, Format: format, Sha256: sum,
		SampleCount: uint64(m.Count), NumClasses: uint32(m.Classes), Erasure: enc.Erasure}
	for _, d := range m.Shape {
		msg.FeatureShape = append(msg.FeatureShape, uint32(d))
	}
	for _, c := range m.LabelHistogram {
		msg.LabelHistogram = append(msg.LabelHistogram, uint64(c))
	}
	if len(providers) > types.MaxProviders {
		providers = providers[:types.MaxProviders]
	}
	msg.Providers = providers
	return msg, nil
}

// ProvidersOf lists the distinct peers of a placement in first-use order.
func ProvidersOf(place [][]string) []string {
	var out []string
	for _, ps := range place {
		for _, p := range ps {
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out
}

// WriteFetched writes canonical bytes already verified against ds.Sha256 as
// a prepared dataset directory: dataset.pouw exactly as rebuilt and a
// meta.json derived from the bytes and the chain record (class names from
// the known formats, else the class ids). It fails when the bytes and the
// record disagree, and checks the result with data.Verify.
func WriteFetched(dir string, ds *types.Dataset, canonical []byte) (*data.Meta, error) {
	d, err := data.Decode(data.DataFile, canonical)
	if err != nil {
		return nil, err
	}
	shape := make([]uint32, len(d.Shape))
	for i, v := range d.Shape {
		shape[i] = uint32(v)
	}
	hist := data.Histogram(d.Labels, d.Classes)
	h64 := make([]uint64, len(hist))
	for i, v := range hist {
		h64[i] = uint64(v)
	}
	if uint64(d.Len()) != ds.SampleCount || uint32(d.Classes) != ds.NumClasses || !slices.Equal(shape, ds.FeatureShape) || !slices.Equal(h64, ds.LabelHistogram) {
		return nil, fmt.Errorf("p2pcmd: dataset %d: the bytes hold %d samples, %d classes, shape %v but the chain records %d, %d, %v", ds.Id, d.Len(), d.Classes, d.Shape, ds.SampleCount, ds.NumClasses, ds.FeatureShape)
	}
	src := sourceOf(ds.Format)
	var names []string
	switch src {
	case data.KindMNIST:
		names = data.MNISTClassNames
	case data.KindFashionMNIST:
		names = data.FashionMNISTClassNames
	case data.KindCIFAR10:
		names = data.CIFAR10ClassNames
	}
	if len(names) != d.Classes {
		names = nil
		for i := 0; i < d.Classes; i++ {
			names = append(names, fmt.Sprint(i))
		}
	}
	var sc data.SplitCounts
	for _, s := range d.Split {
		switch s {
		case data.Train:
			sc.Train++
		case data.Validation:
			sc.Validation++
		case data.Test:
			sc.Test++
		}
	}
	m := &data.Meta{Format: data.FormatName, Name: ds.Name, Source: src, SourceFiles: []string{},
		Count: d.Len(), Classes: d.Classes, ClassNames: names, Shape: d.Shape, DType: d.DType.String(),
		LabelHistogram: hist, SplitCounts: sc, Preprocessing: []data.Step{}, Bytes: int64(len(canonical)),
		SHA256: hex.EncodeToString(ds.Sha256)}
	mj, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	parent := filepath.Dir(filepath.Clean(dir))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*data.Meta, error) { os.RemoveAll(tmp); return nil, err }
	if err := os.WriteFile(filepath.Join(tmp, data.DataFile), canonical, 0o644); err != nil {
		return fail(err)
	}
	if err := os.WriteFile(filepath.Join(tmp, data.MetaFile), append(mj, '\n'), 0o644); err != nil {
		return fail(err)
	}
	if _, err := data.Verify(tmp); err != nil {
		return fail(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fail(err)
	}
	return m, nil
}
