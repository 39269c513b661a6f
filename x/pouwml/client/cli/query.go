package cli

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/cosmos/cosmos-sdk/client"
	"github.com/cosmos/cosmos-sdk/client/flags"

	"github.com/pouw/pouwd/x/pouwml/types"
)

// QueryCmd is `pouwd q pouwml`: the custom commands below, to which
// autocli adds every generated query (EnhanceCustomCommand).
func QueryCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:                        types.ModuleName,
		Short:                      "Querying commands for the pouwml module",
		DisableFlagParsing:         true,
		SuggestionsMinimumDistance: 2,
		RunE:                       client.ValidateCmd,
	}
	cmd.AddCommand(CVTableCmd(), TaskWorkCmd())
	return cmd
}

// CVTableCmd is `pouwd q pouwml cv-table TASK`.
func CVTableCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cv-table [task-id]",
		Short: "Show a task's cross-validation table (verified metrics) and best configuration",
		Long: `Shows each configuration of a task with its metric on every held-out fold
(the median of the assigned verifiers' measurements), the mean and the
population standard deviation over the folds, in percent. With -o json it
prints the exact integers the chain holds (parts per million).`,
		Example: "pouwd q pouwml cv-table 1\npouwd q pouwml cv-table 1 -o json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseUint(args[0], 10, 64)
			if err != nil {
				return fmt.Errorf("task id %q: expected a number", args[0])
			}
			clientCtx, err := client.GetClientQueryContext(cmd)
			if err != nil {
				return err
			}
			res, err := types.NewQueryClient(clientCtx).CVTable(cmd.Context(), &types.QueryCVTableRequest{TaskId: id})
			if err != nil {
				return err
			}
			if clientCtx.OutputFormat == flags.OutputFormatJSON {
				return clientCtx.PrintProto(res)
			}
			return WriteCVTable(cmd.OutOrStdout(), res)
		},
	}
	flags.AddQueryFlagsToCmd(cmd)
	return cmd
}

// WriteCVTable prints res as a table in percent.
func WriteCVTable(w io.Writer, res *types.QueryCVTableResponse) error {
	metric := res.Metric.Name()
	fmt.Fprintf(w, "task %d (%s): %s on each held-out fold, measured by the verifiers\n",
		res.TaskId, strings.ToLower(strings.TrimPrefix(res.Status.String(), "TASK_STATUS_")), metric)
	if len(res.Rows) == 0 {
		_, err := fmt.Fprintln(w, "  no configurations")
		return err
	}
	folds := 0
	for _, r := range res.Rows {
		folds = max(folds, len(r.FoldPpm))
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	hdr := []string{"  config", "model"}
	for f := 0; f < folds; f++ {
		hdr = append(hdr, fmt.Sprintf("fold %d", f))
	}
	hdr = append(hdr, "mean ± std", "folds settled")
	fmt.Fprintln(tw, strings.Join(hdr, "\t"))
	for _, r := range res.Rows {
		row := []string{fmt.Sprintf("  %d", r.ConfigIndex), r.Config.Describe()}
		for f := 0; f < folds; f++ {
			cell := "-"
			if f < len(r.FoldPpm) && slices.Contains(r.SettledFolds, uint32(f)) {
				cell = types.FormatPercentPPM(r.FoldPpm[f])
			}
			row = append(row, cell)
		}
		score := "-"
		if r.Score.FoldsSettled > 0 {
			score = types.FormatPercentPPM(r.Score.MeanPpm) + " ± " + types.FormatPointsPPM(r.Score.StdPpm)
		}
		row = append(row, score, fmt.Sprintf("%d/%d", r.Score.FoldsSettled, folds))
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if !res.HasBest {
		_, err := fmt.Fprintln(w, "best configuration: not decided yet")
		return err
	}
	for _, r := range res.Rows {
		if r.ConfigIndex == res.BestConfig {
			_, err := fmt.Fprintf(w, "best configuration: %d (%s): %s %s ± %s\n", r.ConfigIndex, r.Config.Describe(), metric,
				types.FormatPercentPPM(r.Score.MeanPpm), types.FormatPointsPPM(r.Score.StdPpm))
			return err
		}
	}
	_, err := fmt.Fprintf(w, "best configuration: %d\n", res.BestConfig)
	return err
}
