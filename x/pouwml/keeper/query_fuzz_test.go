package keeper_test

import (
	"context"
	"testing"

	"github.com/cosmos/cosmos-sdk/types/query"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pouw/pouwd/x/pouwml/types"
)

// FuzzQueries: every query of the module with arbitrary ids, indices,
// addresses, status and role filters, heights and pagination (garbage
// keys, huge offsets and limits, reverse, count_total) against the fuzz
// world's state. A query must not panic, must fail only with
// InvalidArgument or NotFound (never an internal or unknown error: a bad
// request is the caller's, and says so), must return no more items than
// a positive limit asks for, and must change nothing.
func FuzzQueries(f *testing.F) {
	fw := newFuzzWorld(f)
	addrs := []string{fw.miner1, fw.client, fw.verifiers[0]}
	f.Add(uint8(0), fw.task, uint32(1), fw.miner1, int32(0), []byte(nil), uint64(0), uint64(0), false, false, int64(0))
	f.Add(uint8(4), fw.task, uint32(2), "", int32(1), []byte{0xff}, uint64(1), uint64(2), true, true, int64(1))
	f.Add(uint8(7), uint64(1<<63), uint32(1<<31), "pouw1notanaddress", int32(-3), []byte("k"), uint64(1<<62), uint64(1<<62), true, false, int64(-1))
	for i := range 17 {
		f.Add(uint8(i), uint64(i), uint32(i%3), addrs[i%3], int32(i%4), []byte(nil), uint64(0), uint64(i), i%2 == 0, i%3 == 0, int64(i))
	}
	base := fw.ctx
	baseSnap := fw.snapshot()
	f.Fuzz(func(t *testing.T, which uint8, id uint64, idx uint32, addr string, filter int32, key []byte, offset, limit uint64, countTotal, reverse bool, height int64) {
		cache, _ := base.CacheContext()
		q, c := fw.query, context.Context(cache)
		page := &query.PageRequest{Key: key, Offset: offset, Limit: limit, CountTotal: countTotal, Reverse: reverse}
		if which&0x80 != 0 {
			page = nil
		}
		var n int // items returned by a paginated query
		var err error
		switch which % 17 {
		case 0:
			_, err = q.Params(c, &types.QueryParamsRequest{})
		case 1:
			_, err = q.Dataset(c, &types.QueryDatasetRequest{Id: id})
		case 2:
			var r *types.QueryDatasetsResponse
			if r, err = q.Datasets(c, &types.QueryDatasetsRequest{Pagination: page}); err == nil {
				n = len(r.Datasets)
			}
		case 3:
			_, err = q.Task(c, &types.QueryTaskRequest{Id: id})
		case 4:
			var r *types.QueryTasksResponse
			if r, err = q.Tasks(c, &types.QueryTasksRequest{Status: types.TaskStatus(filter), Pagination: page}); err == nil {
				n = len(r.Tasks)
			}
		case 5:
			var r *types.QueryTaskJobsResponse
			if r, err = q.TaskJobs(c, &types.QueryTaskJobsRequest{TaskId: id, Pagination: page}); err == nil {
				n = len(r.Jobs)
			}
		case 6:
			_, err = q.Job(c, &types.QueryJobRequest{TaskId: id, JobIndex: idx})
		case 7:
			_, err = q.Worker(c, &types.QueryWorkerRequest{Address: addr})
		case 8:
			var r *types.QueryWorkersResponse
			if r, err = q.Workers(c, &types.QueryWorkersRequest{Role: types.WorkerRole(filter), Pagination: page}); err == nil {
				n = len(r.Workers)
			}
		case 9:
			_, err = q.Evaluations(c, &types.QueryEvaluationsRequest{TaskId: id, JobIndex: idx})
		case 10:
			_, err = q.CVTable(c, &types.QueryCVTableRequest{TaskId: id})
		case 11:
			_, err = q.Commitments(c, &types.QueryCommitmentsRequest{TaskId: id, JobIndex: idx})
		case 12:
			_, err = q.Proof(c, &types.QueryProofRequest{Id: id})
		case 13:
			var r *types.QueryProofsResponse
			if r, err = q.Proofs(c, &types.QueryProofsRequest{Pagination: page}); err == nil {
				n = len(r.Proofs)
			}
		case 14:
			_, err = q.Verdicts(c, &types.QueryVerdictsRequest{ProofId: id})
		case 15:
			_, err = q.Lottery(c, &types.QueryLotteryRequest{AnchorHeight: height})
		case 16:
			_, err = q.Params(c, nil)
		}
		if err != nil {
			if code := status.Code(err); code != codes.InvalidArgument && code != codes.NotFound {
				t.Fatalf("query %d: %v (code %v): a bad request must fail as InvalidArgument or NotFound", which%17, err, code)
			}
		}
		if page != nil && limit > 0 && uint64(n) > limit {
			t.Fatalf("query %d: %d items for a limit of %d", which%17, n, limit)
		}
		fw.ctx = cache
		snap := fw.snapshot()
		fw.ctx = base
		if snap != baseSnap {
			t.Fatalf("query %d changed state", which%17)
		}
	})
}
