package miner

import (
	"context"

	"google.golang.org/grpc"

	"github.com/pouw/pouwd/p2p"
	"github.com/pouw/pouwd/worker"
	"github.com/pouw/pouwd/x/pouwml/types"
)

// Chain is what the miner needs from the chain: its signer, bonding's
// queries (worker.Chain) and those below. worker.NewClient adapts a
// *chainclient.Client; tests use an in-memory fake.
type Chain interface {
	worker.Chain
	Tasks(ctx context.Context, in *types.QueryTasksRequest, opts ...grpc.CallOption) (*types.QueryTasksResponse, error)
	TaskJobs(ctx context.Context, in *types.QueryTaskJobsRequest, opts ...grpc.CallOption) (*types.QueryTaskJobsResponse, error)
	Job(ctx context.Context, in *types.QueryJobRequest, opts ...grpc.CallOption) (*types.QueryJobResponse, error)
	// Proof follows submitted proofs to their settlement (rewards).
	Proof(ctx context.Context, in *types.QueryProofRequest, opts ...grpc.CallOption) (*types.QueryProofResponse, error)
	Dataset(ctx context.Context, in *types.QueryDatasetRequest, opts ...grpc.CallOption) (*types.QueryDatasetResponse, error)
	Commitments(ctx context.Context, in *types.QueryCommitmentsRequest, opts ...grpc.CallOption) (*types.QueryCommitmentsResponse, error)
	Lottery(ctx context.Context, in *types.QueryLotteryRequest, opts ...grpc.CallOption) (*types.QueryLotteryResponse, error)
}

// Store is where the miner keeps what it serves: the checkpoint behind
// every commitment, under the commitment's key, and its final models under
// their SHA-256 (a *p2p.Store, which the daemon's p2p.Service serves).
type Store interface {
	// PutCheckpoint stores b after verify has checked it is key's.
	PutCheckpoint(key p2p.CkptKey, b []byte, verify p2p.VerifyFunc) error
	// PutOwnCheckpoint stores b as it is: the miner's commitment
	// checkpoints, encoded from the state whose hashes it committed.
	PutOwnCheckpoint(key p2p.CkptKey, b []byte) error
	// Checkpoint returns what is stored under key (p2p.ErrNotFound).
	Checkpoint(key p2p.CkptKey) ([]byte, error)
	// PutModel stores a model and returns its SHA-256.
	PutModel(b []byte) ([]byte, error)
}

var (
	_ Chain = (*worker.Client)(nil)
	_ Store = (*p2p.Store)(nil)
)
