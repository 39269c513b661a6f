package verifier

import (
	"context"

	"google.golang.org/grpc"

	"github.com/pouw/pouwd/ml"
	"github.com/pouw/pouwd/p2p"
	"github.com/pouw/pouwd/worker"
	"github.com/pouw/pouwd/x/pouwml/types"
)

// Chain is what the verifier needs from the chain: its signer, bonding's
// queries (worker.Chain) and those below. worker.NewClient adapts a
// *chainclient.Client; tests use an in-memory fake.
type Chain interface {
	worker.Chain
	Tasks(ctx context.Context, in *types.QueryTasksRequest, opts ...grpc.CallOption) (*types.QueryTasksResponse, error)
	Task(ctx context.Context, in *types.QueryTaskRequest, opts ...grpc.CallOption) (*types.QueryTaskResponse, error)
	TaskJobs(ctx context.Context, in *types.QueryTaskJobsRequest, opts ...grpc.CallOption) (*types.QueryTaskJobsResponse, error)
	Dataset(ctx context.Context, in *types.QueryDatasetRequest, opts ...grpc.CallOption) (*types.QueryDatasetResponse, error)
	Commitments(ctx context.Context, in *types.QueryCommitmentsRequest, opts ...grpc.CallOption) (*types.QueryCommitmentsResponse, error)
	Proof(ctx context.Context, in *types.QueryProofRequest, opts ...grpc.CallOption) (*types.QueryProofResponse, error)
}

// Fetcher gets what miners serve (P2PFetcher: from the miner over libp2p).
type Fetcher interface {
	// Checkpoint returns the checkpoint minerAddr serves for a commitment,
	// verified against both committed hashes (ml.VerifyCheckpoint); a
	// checkpoint that is not the committed one is an error matching
	// p2p.ErrMismatch.
	Checkpoint(ctx context.Context, minerAddr string, key p2p.CkptKey) (*ml.Checkpoint, error)
	// Model returns the model minerAddr serves under hash.
	Model(ctx context.Context, minerAddr string, hash []byte) ([]byte, error)
}

// WorkerRecords looks up a worker's registration (its libp2p peer id and
// addresses): P2PFetcher's one query.
type WorkerRecords interface {
	Worker(ctx context.Context, in *types.QueryWorkerRequest, opts ...grpc.CallOption) (*types.QueryWorkerResponse, error)
}

var (
	_ Chain   = (*worker.Client)(nil)
	_ Fetcher = (*P2PFetcher)(nil)
)
