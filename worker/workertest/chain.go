package workertest

import (
	"context"
	sdkmath "cosmossdk.io/math"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"sync"

	sdk "github.com/cosmos/cosmos-sdk/types"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pouw/pouwd/x/pouwml/types"
)

// Chain is an in-memory chain: records by id, a height that grows by one
// per accepted tx, and every accepted message in order. A broadcast applies
// the few state changes the daemons read back (a worker registration, a
// job claim, a checkpoint commitment, a job result); everything else is
// only recorded.
// Fail injects errors. It is safe for concurrent use.
type Chain struct {
	Addr sdk.AccAddress

	mu       sync.Mutex
	params   types.Params
	tasks    map[uint64]types.Task
	jobs     map[uint64][]types.Job
	datasets map[uint64]types.Dataset
	commits  []types.Commitment
	proofs   map[uint64]types.Proof
	workers  map[string]types.Worker
	target   []byte
	height   int64
	msgs     []sdk.Msg
	fail     func(method string, msg sdk.Msg) error
	calls    map[string]int
}

// NewChain returns an empty chain at height 1 signing as the account of
// name, with params and a target at which every ticket wins.
func NewChain(name string, params types.Params) *Chain {
	sum := sha256.Sum256([]byte(name))
	t := make([]byte, 32)
	for i := range t {
		t[i] = 0xff
	}
	return &Chain{Addr: sdk.AccAddress(sum[:20]), params: params, tasks: map[uint64]types.Task{}, jobs: map[uint64][]types.Job{},
		datasets: map[uint64]types.Dataset{}, proofs: map[uint64]types.Proof{}, workers: map[string]types.Worker{}, target: t,
		height: 1, calls: map[string]int{}}
}

// Fail makes a call fail: f is asked before every query (method is its
// name, msg nil) and every broadcast (method "Broadcast", once per message)
// and a non-nil error is returned instead. nil clears it.
func (c *Chain) Fail(f func(method string, msg sdk.Msg) error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fail = f
}

// SetTarget sets the lottery target (32 bytes, big-endian).
func (c *Chain) SetTarget(t []byte) { c.mu.Lock(); c.target = t; c.mu.Unlock() }

// AddTask adds a task with its jobs and dataset.
func (c *Chain) AddTask(t types.Task, ds types.Dataset, jobs []types.Job) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tasks[t.Id], c.datasets[ds.Id], c.jobs[t.Id] = t, ds, jobs
}

// SetJob replaces a job.
func (c *Chain) SetJob(j types.Job) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.jobs[j.TaskId][j.Index] = j
}

// SetProof adds or replaces a proof.
func (c *Chain) SetProof(p types.Proof) { c.mu.Lock(); c.proofs[p.Id] = p; c.mu.Unlock() }

// AddCommitment adds a commitment as if an earlier tx had posted it.
func (c *Chain) AddCommitment(cm types.Commitment) {
	c.mu.Lock()
	c.commits = append(c.commits, cm)
	c.mu.Unlock()
}

// Slash takes amount from the bond of worker addr, as the chain's
// settlement does.
func (c *Chain) Slash(addr string, amount int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.workers[addr]
	w.Bond = w.Bond.SubAmount(sdkmath.NewInt(amount))
	c.workers[addr] = w
}

// Height is the height of the last block.
func (c *Chain) Height() int64 { c.mu.Lock(); defer c.mu.Unlock(); return c.height }

// Calls is how often method was called (queries by name, "Broadcast").
func (c *Chain) Calls(method string) int { c.mu.Lock(); defer c.mu.Unlock(); return c.calls[method] }

// Msgs returns the accepted messages of type T, in order.
func Msgs[T sdk.Msg](c *Chain) []T {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []T
	for _, m := range c.msgs {
		if t, ok := m.(T); ok {
			out = append(out, t)
		}
	}
	return out
}

// Anchor is the fake header hash of the block at height h.
func Anchor(h int64) []byte {
	s := sha256.Sum256(binary.BigEndian.AppendUint64([]byte("workertest/anchor"), uint64(h)))
	return s[:]
}

func (c *Chain) query(method string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[method]++
	if c.fail != nil {
		return c.fail(method, nil)
	}
	return nil
}

func notFound(what string, id any) error {
	return status.Errorf(codes.NotFound, "%s %v not found", what, id)
}

// Address implements the daemons' Chain.
func (c *Chain) Address() sdk.AccAddress { return c.Addr }

// Broadcast implements the daemons' Chain: all messages or none, in one
// new block.
func (c *Chain) Broadcast(_ context.Context, msgs ...sdk.Msg) (*sdk.TxResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls["Broadcast"]++
	if c.fail != nil {
		for _, m := range msgs {
			if err := c.fail("Broadcast", m); err != nil {
				return nil, err
			}
		}
	}
	h := c.height + 1
	for _, m := range msgs {
		if err := c.apply(m, h); err != nil {
			return nil, err
		}
	}
	c.height = h
	c.msgs = append(c.msgs, msgs...)
	return &sdk.TxResponse{Height: h}, nil
}

// apply checks and applies one message (no rollback: the fake's checks all
// come before any change of the same message, and tests send one kind per
// tx).
func (c *Chain) apply(m sdk.Msg, h int64) error {
	switch m := m.(type) {
	case *types.MsgRegisterWorker:
		w, ok := c.workers[m.Address]
		if !ok {
			w = types.Worker{Address: m.Address, Role: m.Role, Bond: sdk.NewCoin(m.Bond.Denom, m.Bond.Amount.MulRaw(0))}
		}
		w.Status, w.Bond = types.WORKER_STATUS_BONDED, w.Bond.Add(m.Bond)
		w.PeerId, w.Multiaddrs, w.Devices = m.PeerId, m.Multiaddrs, m.Devices
		c.workers[m.Address] = w
	case *types.MsgClaimJob:
		jobs := c.jobs[m.TaskId]
		if int(m.JobIndex) >= len(jobs) {
			return fmt.Errorf("claim: no job %d/%d", m.TaskId, m.JobIndex)
		}
		j := &jobs[m.JobIndex]
		if j.Status != types.JOB_STATUS_OPEN {
			return fmt.Errorf("claim: job %d/%d is %s", m.TaskId, m.JobIndex, j.Status)
		}
		j.Status, j.Miner, j.ClaimHeight = types.JOB_STATUS_CLAIMED, m.Miner, h
	case *types.MsgSubmitResult:
		jobs := c.jobs[m.TaskId]
		if int(m.JobIndex) >= len(jobs) || jobs[m.JobIndex].Miner != m.Miner || jobs[m.JobIndex].Status != types.JOB_STATUS_CLAIMED {
			return fmt.Errorf("result: job %d/%d is not claimed by %s", m.TaskId, m.JobIndex, m.Miner)
		}
		j := &jobs[m.JobIndex]
		j.Status, j.ModelHash, j.Claimed = types.JOB_STATUS_SUBMITTED, m.ModelHash, m.Metrics
	case *types.MsgCommitCheckpoint:
		for _, x := range c.commits {
			if x.TaskId == m.TaskId && x.JobIndex == m.JobIndex && x.Miner == m.Miner && x.Step == m.Step {
				return fmt.Errorf("commitment at step %d already exists", m.Step)
			}
		}
		c.commits = append(c.commits, types.Commitment{TaskId: m.TaskId, JobIndex: m.JobIndex, Miner: m.Miner, Step: m.Step,
			WeightsHash: m.WeightsHash, OptimizerHash: m.OptimizerHash, Height: h})
	}
	return nil
}

// Params implements the daemons' Chain.
func (c *Chain) Params(context.Context, *types.QueryParamsRequest, ...grpc.CallOption) (*types.QueryParamsResponse, error) {
	if err := c.query("Params"); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return &types.QueryParamsResponse{Params: c.params}, nil
}

// Worker implements the daemons' Chain.
func (c *Chain) Worker(_ context.Context, in *types.QueryWorkerRequest, _ ...grpc.CallOption) (*types.QueryWorkerResponse, error) {
	if err := c.query("Worker"); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	w, ok := c.workers[in.Address]
	if !ok {
		return nil, notFound("worker", in.Address)
	}
	return &types.QueryWorkerResponse{Worker: w}, nil
}

// Tasks implements the daemons' Chain.
func (c *Chain) Tasks(_ context.Context, in *types.QueryTasksRequest, _ ...grpc.CallOption) (*types.QueryTasksResponse, error) {
	if err := c.query("Tasks"); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	out := &types.QueryTasksResponse{}
	for _, id := range slices.Sorted(maps.Keys(c.tasks)) {
		if t := c.tasks[id]; t.Status == in.Status {
			out.Tasks = append(out.Tasks, t)
		}
	}
	return out, nil
}

// Task implements the daemons' Chain.
func (c *Chain) Task(_ context.Context, in *types.QueryTaskRequest, _ ...grpc.CallOption) (*types.QueryTaskResponse, error) {
	if err := c.query("Task"); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.tasks[in.Id]
	if !ok {
		return nil, notFound("task", in.Id)
	}
	return &types.QueryTaskResponse{Task: t}, nil
}

// TaskJobs implements the daemons' Chain.
func (c *Chain) TaskJobs(_ context.Context, in *types.QueryTaskJobsRequest, _ ...grpc.CallOption) (*types.QueryTaskJobsResponse, error) {
	if err := c.query("TaskJobs"); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return &types.QueryTaskJobsResponse{Jobs: append([]types.Job(nil), c.jobs[in.TaskId]...)}, nil
}

// Job implements the daemons' Chain.
func (c *Chain) Job(_ context.Context, in *types.QueryJobRequest, _ ...grpc.CallOption) (*types.QueryJobResponse, error) {
	if err := c.query("Job"); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	jobs := c.jobs[in.TaskId]
	if int(in.JobIndex) >= len(jobs) {
		return nil, notFound("job", in.JobIndex)
	}
	return &types.QueryJobResponse{Job: jobs[in.JobIndex]}, nil
}

// Dataset implements the daemons' Chain.
func (c *Chain) Dataset(_ context.Context, in *types.QueryDatasetRequest, _ ...grpc.CallOption) (*types.QueryDatasetResponse, error) {
	if err := c.query("Dataset"); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.datasets[in.Id]
	if !ok {
		return nil, notFound("dataset", in.Id)
	}
	return &types.QueryDatasetResponse{Dataset: d}, nil
}

// Commitments implements the daemons' Chain.
func (c *Chain) Commitments(_ context.Context, in *types.QueryCommitmentsRequest, _ ...grpc.CallOption) (*types.QueryCommitmentsResponse, error) {
	if err := c.query("Commitments"); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	out := &types.QueryCommitmentsResponse{}
	for _, x := range c.commits {
		if x.TaskId == in.TaskId && x.JobIndex == in.JobIndex {
			out.Commitments = append(out.Commitments, x)
		}
	}
	return out, nil
}

// Lottery implements the daemons' Chain: the anchor of a height that
// exists (Anchor), else none yet (and an empty block is added: a caller
// polling for an anchor sees the chain advance), and the target.
func (c *Chain) Lottery(_ context.Context, in *types.QueryLotteryRequest, _ ...grpc.CallOption) (*types.QueryLotteryResponse, error) {
	if err := c.query("Lottery"); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	out := &types.QueryLotteryResponse{Target: c.target}
	if in.AnchorHeight <= c.height {
		out.Anchor = Anchor(in.AnchorHeight)
	} else {
		c.height++ // the anchor block is not there yet; time passes, a block comes
	}
	return out, nil
}

// Proof implements the daemons' Chain.
func (c *Chain) Proof(_ context.Context, in *types.QueryProofRequest, _ ...grpc.CallOption) (*types.QueryProofResponse, error) {
	if err := c.query("Proof"); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.proofs[in.Id]
	if !ok {
		return nil, notFound("proof", in.Id)
	}
	return &types.QueryProofResponse{Proof: p}, nil
}

// Mine advances the chain by n empty blocks (anchors for later heights).
func (c *Chain) Mine(n int64) { c.mu.Lock(); c.height += n; c.mu.Unlock() }
