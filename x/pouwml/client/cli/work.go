package cli

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/cosmos/cosmos-sdk/client"
	"github.com/cosmos/cosmos-sdk/client/flags"
	"github.com/cosmos/cosmos-sdk/types/query"

	"github.com/pouw/pouwd/x/pouwml/types"
)

// WorkRow is what one worker did for a task, as the chain recorded it.
type WorkRow struct {
	Name, Address, Role string
	// miners
	JobsAccepted, JobsMisclaimed, JobsOther int
	ProofsAccepted, ProofsRejected          int
	ProofsOpen                              int
	// verifiers
	Evaluations                 int
	VerdictsRevealed, Committed int
}

// label is the row's name, or its address when it has none.
func (r WorkRow) label() string {
	if r.Name != "" {
		return r.Name
	}
	return r.Address
}

// TaskWorkCmd is `pouwd q pouwml task-work TASK [name=address ...]`.
func TaskWorkCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "task-work [task-id] [name=address ...]",
		Short: "Show what each miner and verifier did for a task: jobs, work proofs, evaluations, verdicts",
		Long: `Lists every worker that took part in a task: for miners the jobs whose
results were accepted (or misclaimed) and the work proofs accepted or
rejected; for verifiers the fold evaluations they submitted and the
verdicts they committed and revealed. name=address arguments label rows
with key names.`,
		Example: "pouwd q pouwml task-work 1 miner1=$(pouwd keys show miner1 -a)",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseUint(args[0], 10, 64)
			if err != nil {
				return fmt.Errorf("task id %q: expected a number", args[0])
			}
			names := map[string]string{}
			for _, a := range args[1:] {
				n, addr, ok := strings.Cut(a, "=")
				if !ok || n == "" || addr == "" {
					return fmt.Errorf("label %q: expected name=address", a)
				}
				names[addr] = n
			}
			clientCtx, err := client.GetClientQueryContext(cmd)
			if err != nil {
				return err
			}
			rows, err := TaskWork(cmd.Context(), types.NewQueryClient(clientCtx), id)
			if err != nil {
				return err
			}
			for i := range rows {
				rows[i].Name = names[rows[i].Address]
			}
			slices.SortStableFunc(rows, func(a, b WorkRow) int {
				return cmp.Or(strings.Compare(a.Role, b.Role), strings.Compare(a.label(), b.label()))
			})
			return WriteTaskWork(cmd.OutOrStdout(), id, rows)
		},
	}
	flags.AddQueryFlagsToCmd(cmd)
	return cmd
}

// TaskWork gathers the rows from the task's jobs, its proofs (and their
// verdicts) and its evaluations, in the order the chain lists them.
func TaskWork(ctx context.Context, qc types.QueryClient, taskID uint64) ([]WorkRow, error) {
	var rows []WorkRow
	row := func(addr, role string) *WorkRow {
		for i := range rows {
			if rows[i].Address == addr {
				return &rows[i]
			}
		}
		rows = append(rows, WorkRow{Address: addr, Role: role})
		return &rows[len(rows)-1]
	}
	jobs, err := qc.TaskJobs(ctx, &types.QueryTaskJobsRequest{TaskId: taskID, Pagination: &query.PageRequest{Limit: 10_000}})
	if err != nil {
		return nil, fmt.Errorf("jobs of task %d: %w", taskID, err)
	}
	for _, j := range jobs.Jobs {
		if j.Miner == "" {
			continue
		}
		r := row(j.Miner, "miner")
		switch {
		case j.Status == types.JOB_STATUS_SETTLED && j.Outcome == types.JOB_OUTCOME_ACCEPTED:
			r.JobsAccepted++
		case j.Outcome == types.JOB_OUTCOME_MISCLAIMED:
			r.JobsMisclaimed++
		default:
			r.JobsOther++
		}
	}
	var key []byte
	for {
		ps, err := qc.Proofs(ctx, &types.QueryProofsRequest{Pagination: &query.PageRequest{Key: key, Limit: 1000}})
		if err != nil {
			return nil, fmt.Errorf("proofs: %w", err)
		}
		for _, p := range ps.Proofs {
			if p.TaskId != taskID {
				continue
			}
			r := row(p.Miner, "miner")
			switch p.Status {
			case types.PROOF_STATUS_ACCEPTED:
				r.ProofsAccepted++
			case types.PROOF_STATUS_REJECTED:
				r.ProofsRejected++
			default:
				r.ProofsOpen++
			}
			vs, err := qc.Verdicts(ctx, &types.QueryVerdictsRequest{ProofId: p.Id})
			if err != nil {
				return nil, fmt.Errorf("verdicts of proof %d: %w", p.Id, err)
			}
			for _, v := range vs.Verdicts {
				vr := row(v.Verifier, "verifier")
				vr.Committed++
				if v.Revealed {
					vr.VerdictsRevealed++
				}
			}
		}
		if ps.Pagination == nil || len(ps.Pagination.NextKey) == 0 {
			break
		}
		key = ps.Pagination.NextKey
	}
	for _, j := range jobs.Jobs {
		ev, err := qc.Evaluations(ctx, &types.QueryEvaluationsRequest{TaskId: taskID, JobIndex: j.Index})
		if err != nil {
			return nil, fmt.Errorf("evaluations of task %d job %d: %w", taskID, j.Index, err)
		}
		for _, e := range ev.Evaluations {
			row(e.Verifier, "verifier").Evaluations++
		}
	}
	return rows, nil
}

// WriteTaskWork prints the rows as a table.
func WriteTaskWork(w io.Writer, taskID uint64, rows []WorkRow) error {
	fmt.Fprintf(w, "work on task %d\n", taskID)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  worker\trole\twhat it did")
	for _, r := range rows {
		name := r.label()
		var did []string
		if r.Role == "miner" {
			did = append(did, fmt.Sprintf("%d jobs accepted", r.JobsAccepted))
			if r.JobsMisclaimed > 0 {
				did = append(did, fmt.Sprintf("%d misclaimed", r.JobsMisclaimed))
			}
			if r.JobsOther > 0 {
				did = append(did, fmt.Sprintf("%d not settled", r.JobsOther))
			}
			p := fmt.Sprintf("work proofs: %d accepted, %d rejected", r.ProofsAccepted, r.ProofsRejected)
			if r.ProofsOpen > 0 {
				p += fmt.Sprintf(", %d open", r.ProofsOpen)
			}
			did = append(did, p)
		} else {
			did = append(did, fmt.Sprintf("%d fold evaluations", r.Evaluations),
				fmt.Sprintf("verdicts: %d revealed of %d committed", r.VerdictsRevealed, r.Committed))
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", name, r.Role, strings.Join(did, "; "))
	}
	return tw.Flush()
}
