package cmd

import (
	"github.com/spf13/cobra"
)

// addEngineCommands mounts the training engine's `ml` group and the
// datasets' `data` group (with `ml cv`).
//
// TODO(mount): when cmd/pouwd/mlcmd and cmd/pouwd/datacmd compile, replace
// the body with:
//
//	mlCmd := mlcmd.NewCommand()
//	mlCmd.AddCommand(datacmd.NewCVCommand())
//	rootCmd.AddCommand(mlCmd, datacmd.NewCommand())
func addEngineCommands(rootCmd *cobra.Command) {
	_ = rootCmd
}
