package keeper

import (
	"context"
	"encoding/binary"
	"errors"

	"cosmossdk.io/collections"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	sdk "github.com/cosmos/cosmos-sdk/types"
	"github.com/cosmos/cosmos-sdk/types/query"

	"github.com/pouw/pouwd/x/pouwml/types"
)

// maxPageLimit caps every paginated query.
const (
	defaultPageLimit = 100
	maxPageLimit     = 1000
)

type queryServer struct{ k Keeper }

var _ types.QueryServer = queryServer{}

// NewQueryServerImpl returns the Query service of the module.
func NewQueryServerImpl(k Keeper) types.QueryServer { return queryServer{k: k} }

func notFound(err error, what string) error {
	if errors.Is(err, collections.ErrNotFound) {
		return status.Errorf(codes.NotFound, "%s not found", what)
	}
	return status.Error(codes.Internal, err.Error())
}

func pageLimit(p *query.PageRequest) *query.PageRequest {
	if p == nil {
		p = &query.PageRequest{}
	}
	if p.Limit == 0 {
		p.Limit = defaultPageLimit
	}
	if p.Limit > maxPageLimit {
		p.Limit = maxPageLimit
	}
	return p
}

func (q queryServer) Params(ctx context.Context, _ *types.QueryParamsRequest) (*types.QueryParamsResponse, error) {
	p, err := q.k.Params.Get(ctx)
	if err != nil {
		return nil, notFound(err, "params")
	}
	return &types.QueryParamsResponse{Params: p}, nil
}

func (q queryServer) Dataset(ctx context.Context, req *types.QueryDatasetRequest) (*types.QueryDatasetResponse, error) {
	d, err := q.k.Datasets.Get(ctx, req.Id)
	if err != nil {
		return nil, notFound(err, "dataset")
	}
	return &types.QueryDatasetResponse{Dataset: d}, nil
}

func (q queryServer) Datasets(ctx context.Context, req *types.QueryDatasetsRequest) (*types.QueryDatasetsResponse, error) {
	list, page, err := query.CollectionPaginate(ctx, q.k.Datasets, pageLimit(req.Pagination),
		func(_ uint64, d types.Dataset) (types.Dataset, error) { return d, nil })
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return &types.QueryDatasetsResponse{Datasets: list, Pagination: page}, nil
}

func (q queryServer) Task(ctx context.Context, req *types.QueryTaskRequest) (*types.QueryTaskResponse, error) {
	t, err := q.k.Tasks.Get(ctx, req.Id)
	if err != nil {
		return nil, notFound(err, "task")
	}
	return &types.QueryTaskResponse{Task: t}, nil
}

func (q queryServer) Tasks(ctx context.Context, req *types.QueryTasksRequest) (*types.QueryTasksResponse, error) {
	page := pageLimit(req.Pagination)
	if req.Status == types.TASK_STATUS_UNSPECIFIED {
		list, resp, err := query.CollectionPaginate(ctx, q.k.Tasks, page,
			func(_ uint64, t types.Task) (types.Task, error) { return t, nil })
		if err != nil {
			return nil, status.Error(codes.InvalidArgument, err.Error())
		}
		return &types.QueryTasksResponse{Tasks: list, Pagination: resp}, nil
	}
	// Walk the status index: next_key is the 8-byte big-endian task id to resume from.
	var start uint64
	if len(page.Key) > 0 {
		if len(page.Key) != 8 {
			return nil, status.Error(codes.InvalidArgument, "pagination key must be the 8-byte task id returned as next_key")
		}
		start = binary.BigEndian.Uint64(page.Key)
	}
	rng := collections.NewPrefixedPairRange[int32, uint64](int32(req.Status))
	iter, err := q.k.Tasks.Indexes.Status.Iterate(ctx, rng)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	defer iter.Close()
	resp := &types.QueryTasksResponse{Pagination: &query.PageResponse{}}
	skipped := uint64(0)
	for ; iter.Valid(); iter.Next() {
		id, err := iter.PrimaryKey()
		if err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
		if id < start {
			continue
		}
		if len(page.Key) == 0 && skipped < page.Offset {
			skipped++
			continue
		}
		if uint64(len(resp.Tasks)) == page.Limit {
			resp.Pagination.NextKey = binary.BigEndian.AppendUint64(nil, id)
			break
		}
		t, err := q.k.Tasks.Get(ctx, id)
		if err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
		resp.Tasks = append(resp.Tasks, t)
	}
	return resp, nil
}

func (q queryServer) TaskJobs(ctx context.Context, req *types.QueryTaskJobsRequest) (*types.QueryTaskJobsResponse, error) {
	if has, err := q.k.Tasks.Has(ctx, req.TaskId); err != nil || !has {
		return nil, status.Errorf(codes.NotFound, "task %d not found", req.TaskId)
	}
	list, page, err := query.CollectionPaginate(ctx, q.k.Jobs, pageLimit(req.Pagination),
		func(_ JobKey, j types.Job) (types.Job, error) { return j, nil },
		query.WithCollectionPaginationPairPrefix[uint64, uint32](req.TaskId))
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return &types.QueryTaskJobsResponse{Jobs: list, Pagination: page}, nil
}

func (q queryServer) Job(ctx context.Context, req *types.QueryJobRequest) (*types.QueryJobResponse, error) {
	j, err := q.k.Jobs.Get(ctx, collections.Join(req.TaskId, req.JobIndex))
	if err != nil {
		return nil, notFound(err, "job")
	}
	return &types.QueryJobResponse{Job: j}, nil
}

func (q queryServer) Worker(ctx context.Context, req *types.QueryWorkerRequest) (*types.QueryWorkerResponse, error) {
	addr, err := q.k.parseAddr("address", req.Address)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	w, err := q.k.Workers.Get(ctx, addr)
	if err != nil {
		return nil, notFound(err, "worker")
	}
	return &types.QueryWorkerResponse{Worker: w}, nil
}

func (q queryServer) Workers(ctx context.Context, req *types.QueryWorkersRequest) (*types.QueryWorkersResponse, error) {
	if req.Role == types.WORKER_ROLE_UNSPECIFIED {
		list, page, err := query.CollectionPaginate(ctx, q.k.Workers, pageLimit(req.Pagination),
			func(_ sdk.AccAddress, w types.Worker) (types.Worker, error) { return w, nil })
		if err != nil {
			return nil, status.Error(codes.InvalidArgument, err.Error())
		}
		return &types.QueryWorkersResponse{Workers: list, Pagination: page}, nil
	}
	list, page, err := query.CollectionFilteredPaginate(ctx, q.k.Workers, pageLimit(req.Pagination),
		func(_ sdk.AccAddress, w types.Worker) (bool, error) { return w.Role == req.Role, nil },
		func(_ sdk.AccAddress, w types.Worker) (types.Worker, error) { return w, nil })
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return &types.QueryWorkersResponse{Workers: list, Pagination: page}, nil
}

func (q queryServer) Evaluations(ctx context.Context, req *types.QueryEvaluationsRequest) (*types.QueryEvaluationsResponse, error) {
	evals, err := q.k.jobEvaluations(ctx, req.TaskId, req.JobIndex)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return &types.QueryEvaluationsResponse{Evaluations: evals}, nil
}

// CVTable returns one row per configuration: its settled folds' verified
// values and, once the task closed, its score. Before closing, the score is
// computed on the fly from the folds settled so far.
func (q queryServer) CVTable(ctx context.Context, req *types.QueryCVTableRequest) (*types.QueryCVTableResponse, error) {
	t, err := q.k.Tasks.Get(ctx, req.TaskId)
	if err != nil {
		return nil, notFound(err, "task")
	}
	resp := &types.QueryCVTableResponse{TaskId: t.Id, Metric: t.Cv.Metric, Status: t.Status, HasBest: t.HasBest, BestConfig: t.BestConfig}
	folds := t.Cv.Folds
	for c := uint32(0); c < uint32(len(t.Configs)); c++ {
		row := types.CVRow{ConfigIndex: c, Config: t.Configs[c]}
		for f := uint32(0); f < folds; f++ {
			j, err := q.k.Jobs.Get(ctx, collections.Join(t.Id, c*folds+f))
			if err != nil {
				return nil, notFound(err, "job")
			}
			if j.Status == types.JOB_STATUS_SETTLED {
				row.SettledFolds = append(row.SettledFolds, f)
				row.FoldPpm = append(row.FoldPpm, j.VerifiedPpm)
			}
		}
		if int(c) < len(t.Scores) {
			row.Score = t.Scores[c]
		} else {
			mean, std := types.MeanStd(row.FoldPpm)
			row.Score = types.ConfigScore{ConfigIndex: c, Complete: uint32(len(row.FoldPpm)) == folds, FoldsSettled: uint32(len(row.FoldPpm)), MeanPpm: mean, StdPpm: std}
		}
		resp.Rows = append(resp.Rows, row)
	}
	return resp, nil
}

func (q queryServer) Commitments(ctx context.Context, req *types.QueryCommitmentsRequest) (*types.QueryCommitmentsResponse, error) {
	resp := &types.QueryCommitmentsResponse{}
	rng := collections.NewSuperPrefixedQuadRange[uint64, uint32, sdk.AccAddress, uint64](req.TaskId, req.JobIndex)
	err := q.k.Commitments.Walk(ctx, rng, func(_ collections.Quad[uint64, uint32, sdk.AccAddress, uint64], c types.Commitment) (bool, error) {
		resp.Commitments = append(resp.Commitments, c)
		return len(resp.Commitments) >= maxPageLimit, nil
	})
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return resp, nil
}

func (q queryServer) Proof(ctx context.Context, req *types.QueryProofRequest) (*types.QueryProofResponse, error) {
	p, err := q.k.Proofs.Get(ctx, req.Id)
	if err != nil {
		return nil, notFound(err, "proof")
	}
	return &types.QueryProofResponse{Proof: p}, nil
}

func (q queryServer) Proofs(ctx context.Context, req *types.QueryProofsRequest) (*types.QueryProofsResponse, error) {
	list, page, err := query.CollectionPaginate(ctx, q.k.Proofs, pageLimit(req.Pagination),
		func(_ uint64, p types.Proof) (types.Proof, error) { return p, nil })
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return &types.QueryProofsResponse{Proofs: list, Pagination: page}, nil
}

func (q queryServer) Verdicts(ctx context.Context, req *types.QueryVerdictsRequest) (*types.QueryVerdictsResponse, error) {
	resp := &types.QueryVerdictsResponse{}
	err := q.k.Verdicts.Walk(ctx, collections.NewPrefixedPairRange[uint64, sdk.AccAddress](req.ProofId), func(_ collections.Pair[uint64, sdk.AccAddress], v types.Verdict) (bool, error) {
		resp.Verdicts = append(resp.Verdicts, v)
		return false, nil
	})
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return resp, nil
}

// Lottery returns the current target, the accepted proofs of the current
// retarget interval and, when anchor_height is set, that block's recorded
// header hash (the anchor of commitments posted one block earlier).
func (q queryServer) Lottery(ctx context.Context, req *types.QueryLotteryRequest) (*types.QueryLotteryResponse, error) {
	t, err := q.k.Target.Get(ctx)
	if err != nil {
		return nil, notFound(err, "target")
	}
	n, err := q.k.IntervalAccepted.Get(ctx)
	if err != nil && !errors.Is(err, collections.ErrNotFound) {
		return nil, status.Error(codes.Internal, err.Error())
	}
	resp := &types.QueryLotteryResponse{Target: t, IntervalAccepted: n}
	if req.AnchorHeight > 0 {
		a, err := q.k.BlockHashes.Get(ctx, req.AnchorHeight)
		if err != nil {
			return nil, notFound(err, "anchor at that height (not yet begun, or older than anchor_window_blocks)")
		}
		resp.Anchor = a
	}
	return resp, nil
}
