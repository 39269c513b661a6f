package mlcmd

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pouw/pouwd/monitor/report"
)

func reportCmd() *cobra.Command {
	var (
		plotDir       string
		asJSON, again bool
	)
	cmd := &cobra.Command{
		Use:   "report FILE",
		Short: "Print a run report: config, dataset, epochs, step times, resources, profile, memory and advice with its evidence",
		Long: `Read a run report (JSON written by a training run's report recorder,
package monitor/report; docs/MONITORING.md "Run reports" describes every
field), check it, and print it readably: the run's config and dataset, a
table of its epochs, step-time statistics, a resource summary (peak RSS,
mean CPU, GPUs), the profile table, predicted against measured memory, the
environment, and the advice with the numbers that triggered each finding.

--plot DIR writes learning.png (loss and accuracy per epoch, loss per
step), throughput.png (samples/s over time) and resources.png (CPU, RSS,
GPU utilisation and memory) into DIR. --json prints the validated report
as JSON instead of text. --advise recomputes the advice with this pouwd's
rules (it builds the model from its spec to estimate memory).`,
		Example: `  pouwd ml report run.json
  pouwd ml report run.json --plot plots/
  pouwd ml report run.json --advise --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := report.Read(args[0])
			if err != nil {
				return err
			}
			if again {
				r.Advice = report.Advise(r, report.SpecEstimator(r.Config))
			}
			out := cmd.OutOrStdout()
			if asJSON {
				err = r.Encode(out)
			} else {
				err = report.Print(out, r)
			}
			if err != nil {
				return err
			}
			if plotDir == "" {
				return nil
			}
			paths, err := report.WritePlots(r, plotDir)
			if err != nil {
				return err
			}
			// With --json, stdout holds only the report.
			w := out
			if asJSON {
				w = cmd.ErrOrStderr()
			}
			if len(paths) == 0 {
				fmt.Fprintf(w, "plots: none (the report has no epochs, steps or resource readings)\n")
			}
			for _, p := range paths {
				fmt.Fprintf(w, "plot %s\n", p)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&plotDir, "plot", "", "write PNG plots (learning curves, throughput, resources) into this folder")
	fl.BoolVar(&asJSON, "json", false, "print the validated report as JSON")
	fl.BoolVar(&again, "advise", false, "recompute the advice with this pouwd's rules")
	return cmd
}
