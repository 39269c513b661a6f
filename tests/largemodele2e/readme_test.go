package largemodele2e

import (
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	gogoproto "github.com/cosmos/gogoproto/proto"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/pouw/pouwd/x/pouwml/types"
)

// readmeSection is the README's subsection on ResNet and Transformer tasks.
const readmeSection = "### Tasks for ResNets and Transformers"

// parseFlag decodes a JSON message flag the way autocli does (protojson into
// a message of the file descriptor's type, as x/pouwml/autocli_test.go
// does) and converts it to the chain's gogoproto type.
func parseFlag(t *testing.T, s string, out gogoproto.Message) error {
	t.Helper()
	d, err := gogoproto.HybridResolver.FindDescriptorByName(protoreflect.FullName(gogoproto.MessageName(out)))
	if err != nil {
		t.Fatal(err)
	}
	m := dynamicpb.NewMessage(d.(protoreflect.MessageDescriptor))
	if err := protojson.Unmarshal([]byte(s), m); err != nil {
		return err
	}
	bz, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := gogoproto.Unmarshal(bz, out); err != nil {
		t.Fatal(err)
	}
	return nil
}

// TestREADMETaskExamples: the README's submit-task commands for a
// Transformer and a ResNet parse as autocli parses them, are valid, fit a
// text dataset of 16-byte windows and MNIST, and are exactly the
// configurations, cross-validation, seeds and fee that
// TestLargeModelsEndToEnd mines and verifies.
func TestREADMETaskExamples(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	i := strings.Index(readme, "\n"+readmeSection+"\n")
	if i < 0 {
		t.Fatalf("README.md has no %q subsection", readmeSection)
	}
	sec := readme[i+1+len(readmeSection):]
	if j := regexp.MustCompile(`\n##+ `).FindStringIndex(sec); j != nil {
		sec = sec[:j[0]]
	}
	cmds := regexp.MustCompile(`(?s)submit-task "\$(\w+)" (\d+)upouw --from client --seed (\d+).*?--configs '([^']*)'.*?--cv '([^']*)' --deadlines '([^']*)'`).FindAllStringSubmatch(sec, -1)
	want := []struct {
		dataset    string
		seed       uint64
		config     types.ModelConfig
		stratified bool
		ds         types.Dataset
	}{
		{"TXT", textSeed, transformerConfig(), false, types.Dataset{Format: types.DATASET_FORMAT_TEXT, FeatureShape: []uint32{textSeqLen}, NumClasses: types.TextClasses}},
		{"DS", imageSeed, resnetConfig(), true, types.Dataset{Format: types.DATASET_FORMAT_MNIST, FeatureShape: []uint32{1, 28, 28}, NumClasses: 10}},
	}
	if len(cmds) != len(want) {
		t.Fatalf("README %q: %d submit-task commands with --configs, --cv and --deadlines, want %d", readmeSection, len(cmds), len(want))
	}
	for k, c := range cmds {
		w := want[k]
		if c[1] != w.dataset || c[2] != strconv.Itoa(taskFee) || c[3] != strconv.FormatUint(w.seed, 10) {
			t.Errorf("README command %d: dataset $%s, fee %supouw, seed %s; the test runs $%s, %dupouw, seed %d", k, c[1], c[2], c[3], w.dataset, taskFee, w.seed)
		}
		var cfg types.ModelConfig
		if err := parseFlag(t, c[4], &cfg); err != nil {
			t.Fatalf("--configs %s: %v", c[4], err)
		}
		if err := types.ValidateModelConfig(cfg); err != nil {
			t.Errorf("--configs %s: %v", c[4], err)
		}
		n, err := types.DatasetModelParams(cfg, w.ds)
		if err != nil || n == 0 || n > types.DefaultParams().MaxModelParams {
			t.Errorf("--configs %s on %s %v: %d parameters, %v", c[4], w.ds.Format, w.ds.FeatureShape, n, err)
		}
		if !reflect.DeepEqual(cfg, w.config) {
			t.Errorf("--configs %s is %+v; the test runs %+v", c[4], cfg, w.config)
		}
		var cv types.CVConfig
		if err := parseFlag(t, c[5], &cv); err != nil {
			t.Fatalf("--cv %s: %v", c[5], err)
		}
		if want := taskCV(w.stratified); cv != want {
			t.Errorf("--cv %s is %+v; the test runs %+v", c[5], cv, want)
		}
		var dl types.Deadlines
		if err := parseFlag(t, c[6], &dl); err != nil {
			t.Fatalf("--deadlines %s: %v", c[6], err)
		}
		if want := taskDeadlines(); dl != want {
			t.Errorf("--deadlines %s is %+v; the test runs %+v", c[6], dl, want)
		}
	}
}
