// Command jobhash trains one job of a task on the chain from start to end,
// uninterrupted, exactly as a miner does (package jobspec: the job's
// model, seeds, folds and training configuration from the task record),
// and prints the SHA-256 of the final model's ml.SaveModel bytes: the
// model hash a miner submits as the job's result.
//
// scripts/faults/03-miner-kill.sh compares it with the hash that a miner
// killed mid-job and resumed from its last commitment submitted: equal
// hashes mean the resumed run computed the same bits as one that never
// stopped. It is a test tool, not part of the node.
//
//	jobhash -grpc 127.0.0.1:9090 -task 1 -job 0 -data DIR
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/cosmos/cosmos-sdk/codec"
	codectypes "github.com/cosmos/cosmos-sdk/codec/types"

	"github.com/pouw/pouwd/accel/cpu"
	"github.com/pouw/pouwd/jobspec"
	"github.com/pouw/pouwd/ml"
	"github.com/pouw/pouwd/ml/data"
	"github.com/pouw/pouwd/x/pouwml/types"
)

func main() {
	addr := flag.String("grpc", "127.0.0.1:9090", "a node's gRPC address")
	taskID := flag.Uint64("task", 0, "task id")
	job := flag.Uint("job", 0, "job index")
	dir := flag.String("data", "", "the prepared dataset directory (pouwd data prepare)")
	threads := flag.Int("threads", 1, "CPU threads (the bits do not depend on it)")
	flag.Parse()
	if err := run(*addr, *taskID, uint32(*job), *dir, *threads); err != nil {
		fmt.Fprintln(os.Stderr, "jobhash:", err)
		os.Exit(1)
	}
}

func run(addr string, taskID uint64, index uint32, dir string, threads int) error {
	cdc := codec.NewProtoCodec(codectypes.NewInterfaceRegistry())
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(cdc.GRPCCodec())))
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := types.NewQueryClient(conn).Task(ctx, &types.QueryTaskRequest{Id: taskID})
	if err != nil {
		return fmt.Errorf("task %d: %w", taskID, err)
	}
	ds, _, err := data.Load(dir)
	if err != nil {
		return err
	}
	j, err := jobspec.Prepare(&res.Task, index, ds)
	if err != nil {
		return err
	}
	model, err := j.NewModel()
	if err != nil {
		return err
	}
	be, err := cpu.New(cpu.Options{Threads: threads})
	if err != nil {
		return err
	}
	tr, err := ml.NewTrainer(model, j.Train, j.Config, be)
	if err != nil {
		return err
	}
	for !tr.Done() {
		if _, err := tr.Step(nil); err != nil {
			return err
		}
	}
	var b bytes.Buffer
	if err := ml.SaveModel(&b, tr.Model); err != nil {
		return err
	}
	fmt.Printf("%x\n", sha256.Sum256(b.Bytes()))
	return nil
}
