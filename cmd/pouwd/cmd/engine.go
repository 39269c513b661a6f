package cmd

import (
	"github.com/spf13/cobra"

	"github.com/pouw/pouwd/cmd/pouwd/datacmd"
	"github.com/pouw/pouwd/cmd/pouwd/mlcmd"
	"github.com/pouw/pouwd/cmd/pouwd/p2pcmd"
)

// addEngineCommands mounts the training engine's `ml` group (with the
// datasets' `ml cv`) and the datasets' `data` group.
func addEngineCommands(rootCmd *cobra.Command) {
	mlCmd := mlcmd.NewCommand()
	mlCmd.AddCommand(datacmd.NewCVCommand())
	dataCmd := datacmd.NewCommand()
	p2pcmd.AddDataCommands(dataCmd)
	rootCmd.AddCommand(mlCmd, dataCmd)
}
