package types

import (
	"bytes"
	"fmt"
	"strings"
)

// Field bounds. Every variable-length field a Msg carries is bounded here.
const (
	HashLen           = 32
	MaxNameLen        = 64
	MaxClasses        = 100_000
	MaxShapeDims      = 4
	MaxShapeDim       = 65_536
	MaxFeatureElems   = 1 << 24
	MaxSamples        = 1 << 32
	MaxShards         = 256 // GF(2^8) Reed-Solomon limit: data + parity
	MaxShardSize      = 1 << 30
	MaxProviders      = 64
	MaxPeerIDLen      = 128
	MinPeerIDLen      = 32
	MaxMultiaddrs     = 16
	MaxMultiaddrLen   = 256
	MaxDevices        = 16
	MaxDeviceNameLen  = 128
	MinFolds          = 2
	MaxFolds          = 20
	MaxLayers         = 64
	MaxLayerSize      = 1 << 20
	MaxLearningRateE9 = 10_000_000_000 // 10.0
	MaxBatchSize      = 1 << 16
	MaxEpochs         = 10_000
	MaxFractionE9     = 1_000_000_000 // 1.0
	// TextClasses is the class count (and token vocabulary) of a
	// DATASET_FORMAT_TEXT dataset: one token per byte, the label the next byte.
	TextClasses = 256
)

// Architectures a task may ask for.
var Architectures = []string{"mlp", "cnn", "resnet", "transformer", "vit"}

// ValidateHash checks a SHA-256 digest field.
func ValidateHash(field string, h []byte) error {
	if len(h) != HashLen {
		return fmt.Errorf("%s must be a %d-byte SHA-256, got %d bytes", field, HashLen, len(h))
	}
	return nil
}

// ValidateName checks a human-readable name: 1..64 printable ASCII characters.
func ValidateName(field, s string) error {
	if len(s) == 0 || len(s) > MaxNameLen {
		return fmt.Errorf("%s must be 1 to %d characters, got %d", field, MaxNameLen, len(s))
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return fmt.Errorf("%s must be printable ASCII, byte %d is 0x%02x", field, i, s[i])
		}
	}
	return nil
}

const base58Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

// ValidatePeerID checks the textual form of a libp2p peer id (base58btc,
// as "12D3KooW..." or "Qm..."; CIDv1 forms are not accepted).
func ValidatePeerID(field, id string) error {
	if len(id) < MinPeerIDLen || len(id) > MaxPeerIDLen {
		return fmt.Errorf("%s %q must be a libp2p peer id of %d to %d characters", field, id, MinPeerIDLen, MaxPeerIDLen)
	}
	for i := 0; i < len(id); i++ {
		if !strings.ContainsRune(base58Alphabet, rune(id[i])) {
			return fmt.Errorf("%s %q: character %q at %d is not base58", field, id, id[i], i)
		}
	}
	return nil
}

// ValidateMultiaddrs checks a worker's listen addresses (textual multiaddrs).
func ValidateMultiaddrs(addrs []string) error {
	if len(addrs) > MaxMultiaddrs {
		return fmt.Errorf("at most %d multiaddrs, got %d", MaxMultiaddrs, len(addrs))
	}
	for i, a := range addrs {
		if len(a) < 2 || len(a) > MaxMultiaddrLen || a[0] != '/' {
			return fmt.Errorf("multiaddr %d %q must start with '/' and be 2 to %d characters", i, a, MaxMultiaddrLen)
		}
		for j := 0; j < len(a); j++ {
			if a[j] <= 0x20 || a[j] > 0x7e {
				return fmt.Errorf("multiaddr %d has a non-printable byte at %d", i, j)
			}
		}
	}
	return nil
}

// ValidateDevices checks declared devices.
func ValidateDevices(devs []Device) error {
	if len(devs) > MaxDevices {
		return fmt.Errorf("at most %d devices, got %d", MaxDevices, len(devs))
	}
	for i, d := range devs {
		if d.Kind != "cpu" && d.Kind != "gpu" {
			return fmt.Errorf("device %d kind must be cpu or gpu, got %q", i, d.Kind)
		}
		if len(d.Name) == 0 || len(d.Name) > MaxDeviceNameLen {
			return fmt.Errorf("device %d name must be 1 to %d characters", i, MaxDeviceNameLen)
		}
	}
	return nil
}

// ValidateDatasetFields checks everything of a dataset registration that
// needs no state: hashes, counts, shape, histogram, erasure code, providers.
func ValidateDatasetFields(m *MsgRegisterDataset) error {
	if err := ValidateName("name", m.Name); err != nil {
		return err
	}
	if _, ok := DatasetFormat_name[int32(m.Format)]; !ok || m.Format == DATASET_FORMAT_UNSPECIFIED {
		return fmt.Errorf("format must be one of mnist, fashion-mnist, cifar10, cifar100, csv, hdf5, images, text; got %d", m.Format)
	}
	if err := ValidateHash("sha256", m.Sha256); err != nil {
		return err
	}
	if m.SampleCount == 0 || m.SampleCount > MaxSamples {
		return fmt.Errorf("sample_count must be in [1, %d], got %d", uint64(MaxSamples), m.SampleCount)
	}
	if m.NumClasses < 2 || m.NumClasses > MaxClasses {
		return fmt.Errorf("num_classes must be in [2, %d], got %d", MaxClasses, m.NumClasses)
	}
	if want := formatClasses(m.Format); want != 0 && m.NumClasses != want {
		return fmt.Errorf("format %s has %d classes, got num_classes %d", m.Format, want, m.NumClasses)
	}
	if len(m.FeatureShape) == 0 || len(m.FeatureShape) > MaxShapeDims {
		return fmt.Errorf("feature_shape must have 1 to %d dimensions, got %d", MaxShapeDims, len(m.FeatureShape))
	}
	if m.Format == DATASET_FORMAT_TEXT && len(m.FeatureShape) != 1 {
		return fmt.Errorf("format %s has samples of shape [SEQ] (one token id per byte of a window), got feature_shape %v", m.Format, m.FeatureShape)
	}
	elems := uint64(1)
	for i, d := range m.FeatureShape {
		if d == 0 || d > MaxShapeDim {
			return fmt.Errorf("feature_shape[%d] must be in [1, %d], got %d", i, MaxShapeDim, d)
		}
		elems *= uint64(d)
		if elems > MaxFeatureElems {
			return fmt.Errorf("feature_shape has more than %d elements per sample", MaxFeatureElems)
		}
	}
	if uint32(len(m.LabelHistogram)) != m.NumClasses {
		return fmt.Errorf("label_histogram must have num_classes=%d entries, got %d", m.NumClasses, len(m.LabelHistogram))
	}
	var total uint64
	for i, c := range m.LabelHistogram {
		if c > m.SampleCount {
			return fmt.Errorf("label_histogram[%d]=%d exceeds sample_count %d", i, c, m.SampleCount)
		}
		total += c
	}
	if total != m.SampleCount {
		return fmt.Errorf("label_histogram sums to %d, expected sample_count %d", total, m.SampleCount)
	}
	if err := ValidateErasure(m.Erasure); err != nil {
		return fmt.Errorf("erasure: %w", err)
	}
	if len(m.Providers) > MaxProviders {
		return fmt.Errorf("at most %d providers, got %d", MaxProviders, len(m.Providers))
	}
	for i, p := range m.Providers {
		if err := ValidatePeerID(fmt.Sprintf("providers[%d]", i), p); err != nil {
			return err
		}
		for j := 0; j < i; j++ {
			if m.Providers[j] == p {
				return fmt.Errorf("providers[%d] repeats providers[%d] %q", i, j, p)
			}
		}
	}
	return nil
}

func formatClasses(f DatasetFormat) uint32 {
	switch f {
	case DATASET_FORMAT_MNIST, DATASET_FORMAT_FASHION_MNIST, DATASET_FORMAT_CIFAR10:
		return 10
	case DATASET_FORMAT_CIFAR100:
		return 100
	case DATASET_FORMAT_TEXT:
		return TextClasses
	}
	return 0
}

// ValidateErasure checks a Reed-Solomon layout: k data and m parity shards
// (k >= 1, m >= 1, k+m <= 256), a shard size that fits the original length
// (Split pads the last data shard, so (k-1)*size < original <= k*size), one
// SHA-256 per shard and the Merkle root over them.
func ValidateErasure(e ErasureCode) error {
	if e.DataShards == 0 || e.ParityShards == 0 || e.DataShards+e.ParityShards > MaxShards {
		return fmt.Errorf("need data_shards >= 1, parity_shards >= 1 and at most %d in all, got %d+%d", MaxShards, e.DataShards, e.ParityShards)
	}
	if e.ShardSize == 0 || e.ShardSize > MaxShardSize {
		return fmt.Errorf("shard_size must be in [1, %d], got %d", MaxShardSize, e.ShardSize)
	}
	k := uint64(e.DataShards)
	if e.OriginalSize == 0 || e.OriginalSize > k*e.ShardSize || e.OriginalSize <= (k-1)*e.ShardSize {
		return fmt.Errorf("original_size %d does not fit %d data shards of %d bytes (expected shard_size = ceil(original_size / data_shards))", e.OriginalSize, k, e.ShardSize)
	}
	n := int(e.DataShards + e.ParityShards)
	if len(e.ShardHashes) != n {
		return fmt.Errorf("need one shard hash per shard (%d), got %d", n, len(e.ShardHashes))
	}
	for i, h := range e.ShardHashes {
		if err := ValidateHash(fmt.Sprintf("shard_hashes[%d]", i), h); err != nil {
			return err
		}
	}
	if err := ValidateHash("merkle_root", e.MerkleRoot); err != nil {
		return err
	}
	if root := MerkleRoot(e.ShardHashes); !bytes.Equal(root, e.MerkleRoot) {
		return fmt.Errorf("merkle_root %x does not match the shard hashes (expected %x)", e.MerkleRoot, root)
	}
	return nil
}

// ValidateModelConfig checks one configuration of a search space: the
// architecture, the encoding of its layers (types.proto, ModelConfig.layers;
// whether they fit a dataset is ModelParams') and the hyperparameters.
func ValidateModelConfig(c ModelConfig) error {
	if err := validateLayers(c); err != nil {
		return err
	}
	if c.LearningRateE9 == 0 || c.LearningRateE9 > MaxLearningRateE9 {
		return fmt.Errorf("learning_rate_e9 must be in [1, %d], got %d", uint64(MaxLearningRateE9), c.LearningRateE9)
	}
	if c.BatchSize == 0 || c.BatchSize > MaxBatchSize {
		return fmt.Errorf("batch_size must be in [1, %d], got %d", MaxBatchSize, c.BatchSize)
	}
	if c.Epochs == 0 || c.Epochs > MaxEpochs {
		return fmt.Errorf("epochs must be in [1, %d], got %d", MaxEpochs, c.Epochs)
	}
	if _, ok := Optimizer_name[int32(c.Optimizer)]; !ok || c.Optimizer == OPTIMIZER_UNSPECIFIED {
		return fmt.Errorf("optimizer must be sgd, adam or adamw, got %d", c.Optimizer)
	}
	if c.MomentumE9 >= MaxFractionE9 {
		return fmt.Errorf("momentum_e9 must be below %d (1.0), got %d", MaxFractionE9, c.MomentumE9)
	}
	if c.WeightDecayE9 > MaxFractionE9 {
		return fmt.Errorf("weight_decay_e9 must be at most %d (1.0), got %d", MaxFractionE9, c.WeightDecayE9)
	}
	if _, ok := Precision_name[int32(c.Precision)]; !ok || c.Precision == PRECISION_UNSPECIFIED {
		return fmt.Errorf("precision must be fp32, bf16 or fp16, got %d", c.Precision)
	}
	return nil
}

// ValidateCV checks a cross-validation config.
func ValidateCV(c CVConfig) error {
	if c.Folds < MinFolds || c.Folds > MaxFolds {
		return fmt.Errorf("folds must be in [%d, %d], got %d", MinFolds, MaxFolds, c.Folds)
	}
	if _, ok := Metric_name[int32(c.Metric)]; !ok || c.Metric == METRIC_UNSPECIFIED {
		return fmt.Errorf("metric must be accuracy, f1_macro, precision_macro or recall_macro, got %d", c.Metric)
	}
	return nil
}

// ValidateMetrics checks that each fold metric is a fraction in ppm.
func ValidateMetrics(m FoldMetrics) error {
	for _, v := range []struct {
		name string
		val  uint32
	}{{"accuracy_ppm", m.AccuracyPpm}, {"f1_macro_ppm", m.F1MacroPpm}, {"precision_macro_ppm", m.PrecisionMacroPpm}, {"recall_macro_ppm", m.RecallMacroPpm}} {
		if v.val > MaxPPM {
			return fmt.Errorf("%s must be at most %d, got %d", v.name, MaxPPM, v.val)
		}
	}
	return nil
}

// Value returns the metric the task ranks by.
func (m FoldMetrics) Value(metric Metric) uint64 {
	switch metric {
	case METRIC_F1_MACRO:
		return uint64(m.F1MacroPpm)
	case METRIC_PRECISION_MACRO:
		return uint64(m.PrecisionMacroPpm)
	case METRIC_RECALL_MACRO:
		return uint64(m.RecallMacroPpm)
	default:
		return uint64(m.AccuracyPpm)
	}
}

// IsFinal reports whether a job can no longer change.
func (s JobStatus) IsFinal() bool {
	return s == JOB_STATUS_SETTLED || s == JOB_STATUS_EXPIRED || s == JOB_STATUS_FAILED || s == JOB_STATUS_CANCELLED
}

// IsFinal reports whether a task is closed.
func (s TaskStatus) IsFinal() bool {
	return s == TASK_STATUS_COMPLETED || s == TASK_STATUS_EXPIRED || s == TASK_STATUS_CANCELLED
}
