package cmd

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/cosmos/cosmos-sdk/client"
	"github.com/cosmos/cosmos-sdk/client/config"
	"github.com/cosmos/cosmos-sdk/client/flags"
	"github.com/cosmos/cosmos-sdk/server"
	authtypes "github.com/cosmos/cosmos-sdk/x/auth/types"

	"github.com/pouw/pouwd/app"
)

// NewRootCmd returns pouwd's root command.
func NewRootCmd() *cobra.Command {
	tempApp := app.NewTempApp()
	initClientCtx := client.Context{}.
		WithCodec(tempApp.AppCodec()).
		WithInterfaceRegistry(tempApp.InterfaceRegistry()).
		WithTxConfig(tempApp.TxConfig()).
		WithLegacyAmino(tempApp.LegacyAmino()).
		WithInput(os.Stdin).
		WithAccountRetriever(authtypes.AccountRetriever{}).
		WithHomeDir(app.DefaultNodeHome).
		WithViper("POUWD")

	rootCmd := &cobra.Command{
		Use:           "pouwd",
		Short:         "pouwd: a Proof-of-Useful-Work chain for machine learning",
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			// Flags and arguments have parsed: an error from here on is
			// not about how the command was called, so no usage text.
			cmd.SilenceUsage = true
			cmd.SetOut(cmd.OutOrStdout())
			cmd.SetErr(cmd.ErrOrStderr())

			clientCtx := initClientCtx.WithCmdContext(cmd.Context())
			clientCtx, err := client.ReadPersistentCommandFlags(clientCtx, cmd.Flags())
			if err != nil {
				return err
			}
			clientCtx, err = config.ReadFromClientConfig(clientCtx)
			if err != nil {
				return err
			}
			if clientCtx, err = honourKeyringFlags(cmd, clientCtx); err != nil {
				return err
			}
			if err := client.SetCmdClientContextHandler(clientCtx, cmd); err != nil {
				return err
			}
			appTemplate, appConfig := initAppConfig()
			return server.InterceptConfigsPreRunHandler(cmd, appTemplate, appConfig, initCometConfig())
		},
	}

	initRootCmd(rootCmd, tempApp)

	autoCliOpts := tempApp.AutoCliOpts()
	clientCtx, _ := config.ReadDefaultValuesFromDefaultClientConfig(initClientCtx)
	autoCliOpts.ClientCtx = clientCtx
	if err := autoCliOpts.EnhanceRootCommand(rootCmd); err != nil {
		panic(err)
	}
	silenceUsageOnRunErrors(rootCmd)
	return rootCmd
}

// silenceUsageOnRunErrors makes every command print only its error, not
// its whole usage, when it fails after its flags and arguments parsed
// (cobra prints usage for any error unless SilenceUsage is set, and
// commands with their own PersistentPreRunE skip the root's). Flag and
// argument errors still show usage: cobra reports those before RunE.
func silenceUsageOnRunErrors(c *cobra.Command) {
	if run := c.RunE; run != nil {
		c.RunE = func(cmd *cobra.Command, args []string) error {
			cmd.SilenceUsage = true
			return run(cmd, args)
		}
	}
	for _, sub := range c.Commands() {
		silenceUsageOnRunErrors(sub)
	}
}

// honourKeyringFlags re-opens the keyring when --keyring-dir or
// --keyring-backend is given: the SDK's client.toml reader opens the
// keyring in --home with client.toml's backend and would otherwise ignore
// --keyring-dir.
func honourKeyringFlags(cmd *cobra.Command, clientCtx client.Context) (client.Context, error) {
	fs := cmd.Flags()
	dirChanged := fs.Changed(flags.FlagKeyringDir)
	backendChanged := fs.Changed(flags.FlagKeyringBackend)
	if !dirChanged && !backendChanged {
		return clientCtx, nil
	}
	if dirChanged {
		dir, _ := fs.GetString(flags.FlagKeyringDir)
		clientCtx = clientCtx.WithKeyringDir(dir)
	}
	backend := ""
	if clientCtx.Keyring != nil {
		backend = clientCtx.Keyring.Backend()
	}
	if backendChanged {
		backend, _ = fs.GetString(flags.FlagKeyringBackend)
	}
	if backend == "" {
		return clientCtx, nil
	}
	kr, err := client.NewKeyringFromBackend(clientCtx, backend)
	if err != nil {
		return clientCtx, err
	}
	return clientCtx.WithKeyring(kr), nil
}
