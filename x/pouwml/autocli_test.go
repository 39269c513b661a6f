package pouwml

import (
	"regexp"
	"strings"
	"testing"

	gogoproto "github.com/cosmos/gogoproto/proto"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/pouw/pouwd/x/pouwml/types"
)

// parseConfigFlag decodes one --configs value the way autocli does (its
// JSON message flag: protojson into a message of the file descriptor's
// type) and converts it to the chain's ModelConfig.
func parseConfigFlag(t *testing.T, s string) (types.ModelConfig, error) {
	t.Helper()
	d, err := gogoproto.HybridResolver.FindDescriptorByName("pouwml.v1.ModelConfig")
	if err != nil {
		t.Fatal(err)
	}
	m := dynamicpb.NewMessage(d.(protoreflect.MessageDescriptor))
	if err := protojson.Unmarshal([]byte(s), m); err != nil {
		return types.ModelConfig{}, err
	}
	bz, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var c types.ModelConfig
	if err := gogoproto.Unmarshal(bz, &c); err != nil {
		t.Fatal(err)
	}
	return c, nil
}

func submitTaskOptions(t *testing.T) (example, long, usage string) {
	for _, o := range (AppModule{}).AutoCLIOptions().Tx.RpcCommandOptions {
		if o.RpcMethod == "SubmitTask" {
			return o.Example, o.Long, o.FlagOptions["configs"].Usage
		}
	}
	t.Fatal("no submit-task command")
	return
}

// TestSubmitTaskConfigsFlag: every --configs of submit-task's examples
// parses as autocli parses it, is a valid configuration and fits the
// dataset the example names (MNIST-shaped, or byte-level text for the
// transformer); the help names every architecture and its layers.
func TestSubmitTaskConfigsFlag(t *testing.T) {
	example, long, usage := submitTaskOptions(t)
	flags := regexp.MustCompile(`--configs '([^']*)'`).FindAllStringSubmatch(example, -1)
	seen := map[string]bool{}
	for _, f := range flags {
		c, err := parseConfigFlag(t, f[1])
		if err != nil {
			t.Fatalf("--configs %s: %v", f[1], err)
		}
		if err := types.ValidateModelConfig(c); err != nil {
			t.Errorf("--configs %s: %v", f[1], err)
		}
		ds := types.Dataset{Format: types.DATASET_FORMAT_MNIST, FeatureShape: []uint32{1, 28, 28}, NumClasses: 10}
		if c.Architecture == "transformer" {
			ds = types.Dataset{Format: types.DATASET_FORMAT_TEXT, FeatureShape: []uint32{64}, NumClasses: types.TextClasses}
		}
		n, err := types.DatasetModelParams(c, ds)
		if err != nil || n > types.DefaultParams().MaxModelParams {
			t.Errorf("--configs %s on %v: %d parameters, %v", f[1], ds.FeatureShape, n, err)
		}
		seen[c.Architecture] = true
	}
	for _, a := range []string{"mlp", "resnet", "transformer", "vit"} {
		if !seen[a] {
			t.Errorf("no %s example in submit-task's help", a)
		}
	}
	for _, a := range types.Architectures {
		if !strings.Contains(usage, a) || !strings.Contains(long, "\n  "+a+" ") {
			t.Errorf("submit-task's help does not describe architecture %s", a)
		}
	}

	// The same syntax for every architecture: the layers are a JSON array,
	// transformer FLAGS may be 0, anything else is refused with the field.
	for _, tc := range []struct {
		json, err string
	}{
		{`{"architecture":"transformer","layers":[2,64,4,256,4,0]}`, ""},
		{`{"architecture":"resnet","layers":[2,64,3,4,6,3]}`, ""},
		{`{"architecture":"vit","layers":[4,6,192,3]}`, ""},
		{`{"architecture":"transformer","layers":[2,64,5,256]}`, "HEADS"},
		{`{"architecture":"resnet","layers":[3,64,3]}`, "BLOCK"},
		{`{"architecture":"vit","layers":[4,6,192]}`, "4 or 5 entries"},
	} {
		c, err := parseConfigFlag(t, tc.json)
		if err != nil {
			t.Fatalf("%s: %v", tc.json, err)
		}
		c.LearningRateE9, c.BatchSize, c.Epochs, c.Optimizer, c.Precision = 1_000_000, 32, 1, types.OPTIMIZER_ADAM, types.PRECISION_FP32
		err = types.ValidateModelConfig(c)
		if (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: %v, want %q", tc.json, err, tc.err)
		}
	}
	if _, err := parseConfigFlag(t, `{"architecture":"resnet","layers":"1-16-3"}`); err == nil {
		t.Error("layers as a string parsed")
	}
}
