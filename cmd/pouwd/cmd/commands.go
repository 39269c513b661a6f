package cmd

import (
	"errors"
	"fmt"

	cmtcfg "github.com/cometbft/cometbft/config"
	dbm "github.com/cosmos/cosmos-db"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"cosmossdk.io/log/v2"

	"github.com/cosmos/cosmos-sdk/client"
	"github.com/cosmos/cosmos-sdk/client/debug"
	"github.com/cosmos/cosmos-sdk/client/flags"
	"github.com/cosmos/cosmos-sdk/client/keys"
	"github.com/cosmos/cosmos-sdk/client/pruning"
	"github.com/cosmos/cosmos-sdk/client/rpc"
	"github.com/cosmos/cosmos-sdk/client/snapshot"
	"github.com/cosmos/cosmos-sdk/server"
	serverconfig "github.com/cosmos/cosmos-sdk/server/config"
	servertypes "github.com/cosmos/cosmos-sdk/server/types"
	authcmd "github.com/cosmos/cosmos-sdk/x/auth/client/cli"
	genutilcli "github.com/cosmos/cosmos-sdk/x/genutil/client/cli"

	"github.com/pouw/pouwd/app"
	"github.com/pouw/pouwd/cmd/pouwd/workercmd"
)

func initRootCmd(rootCmd *cobra.Command, tempApp *app.PouwApp) {
	basics := tempApp.BasicModuleManager

	rootCmd.AddCommand(
		genutilcli.InitCmd(basics, app.DefaultNodeHome),
		debug.Cmd(),
		ConfigCmd(),
		pruning.Cmd(newApp, app.DefaultNodeHome),
		snapshot.Cmd(newApp),
	)

	server.AddCommands(rootCmd, app.DefaultNodeHome, newApp, appExport, func(*cobra.Command) {})

	rootCmd.AddCommand(
		server.StatusCommand(),
		genutilcli.Commands(tempApp.TxConfig(), basics, app.DefaultNodeHome),
		queryCommand(),
		txCommand(),
		keys.Commands(),
	)

	addEngineCommands(rootCmd)
	rootCmd.AddCommand(workercmd.NewMinerCommand(), workercmd.NewVerifierCommand())
}

func queryCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:                        "query",
		Aliases:                    []string{"q"},
		Short:                      "Querying subcommands",
		DisableFlagParsing:         false,
		SuggestionsMinimumDistance: 2,
		RunE:                       client.ValidateCmd,
	}
	cmd.AddCommand(
		rpc.QueryEventForTxCmd(),
		rpc.ValidatorCommand(),
		server.QueryBlockCmd(),
		authcmd.QueryTxsByEventsCmd(),
		server.QueryBlocksCmd(),
		authcmd.QueryTxCmd(),
		server.QueryBlockResultsCmd(),
	)
	return cmd
}

func txCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:                        "tx",
		Short:                      "Transactions subcommands",
		DisableFlagParsing:         false,
		SuggestionsMinimumDistance: 2,
		RunE:                       client.ValidateCmd,
	}
	cmd.AddCommand(
		authcmd.GetSignCommand(),
		authcmd.GetSignBatchCommand(),
		authcmd.GetMultiSignCommand(),
		authcmd.GetMultiSignBatchCmd(),
		authcmd.GetValidateSignaturesCommand(),
		authcmd.GetBroadcastCommand(),
		authcmd.GetEncodeCommand(),
		authcmd.GetDecodeCommand(),
		authcmd.GetSimulateCmd(),
	)
	return cmd
}

// newApp is the server's AppCreator. It also registers the node's own
// Prometheus collectors (metrics.go) where CometBFT's instrumentation
// server gathers; a failure there is logged, never fatal to the node.
func newApp(logger log.Logger, db dbm.DB, appOpts servertypes.AppOptions) servertypes.Application {
	a := app.NewPouwApp(logger, db, true, appOpts, server.DefaultBaseappOptions(appOpts)...)
	if err := registerNodeMetrics(prometheus.DefaultRegisterer, nodeMetricsCollectors(a, appOpts)...); err != nil {
		logger.Error("node metrics not registered", "err", err)
	}
	return a
}

// appExport is the server's AppExporter.
func appExport(
	logger log.Logger, db dbm.DB, height int64, forZeroHeight bool, jailAllowedAddrs []string,
	appOpts servertypes.AppOptions, modulesToExport []string,
) (servertypes.ExportedApp, error) {
	homePath, ok := appOpts.Get(flags.FlagHome).(string)
	if !ok || homePath == "" {
		return servertypes.ExportedApp{}, errors.New("application home is not set")
	}
	if v, ok := appOpts.(*viper.Viper); ok {
		// Never run invariants or upgrades during an export.
		v.Set(server.FlagInvCheckPeriod, 1)
	}

	var pouwApp *app.PouwApp
	if height != -1 {
		pouwApp = app.NewPouwApp(logger, db, false, appOpts)
		if err := pouwApp.LoadHeight(height); err != nil {
			return servertypes.ExportedApp{}, fmt.Errorf("load height %d: %w", height, err)
		}
	} else {
		pouwApp = app.NewPouwApp(logger, db, true, appOpts)
	}
	return pouwApp.ExportAppStateAndValidators(forZeroHeight, jailAllowedAddrs, modulesToExport)
}

// DefaultIAVLCacheSize is app.toml's iavl-cache-size in pouwd: IAVL nodes
// cached per store. The SDK's 781250 is per store too, and IAVL adds every
// node it saves to that cache (a new version's path copies included) and
// drops one only by LRU eviction, so each store written every block
// (x/pouwml, distribution, slashing, mint, ...) grows its cache until it
// holds that many nodes: in the soak (docs/SOAK.md) a validator's live
// heap grew about 2.5 MB a minute, nearly all IAVL nodes, and its RSS
// 44-78% in 80 minutes. With 20000 the cached nodes (110 thousand in all
// after 35 minutes) still grew by a thousand a minute, the stores written
// a few nodes a block filling last. 2000 nodes per store hold the top ten
// levels of every tree and the recent writes, and fill within minutes; a
// read below them goes to the fast-node index (the latest version's
// key/values, cached apart) or LevelDB. Operators with memory to spare
// raise it in app.toml.
const DefaultIAVLCacheSize = 2000

// initAppConfig returns app.toml's template and defaults: a zero minimum
// gas price in upouw (operators raise it), DefaultIAVLCacheSize,
// everything else the SDK's.
func initAppConfig() (string, any) {
	srvCfg := serverconfig.DefaultConfig()
	srvCfg.MinGasPrices = "0" + app.BondDenom
	srvCfg.IAVLCacheSize = DefaultIAVLCacheSize
	return serverconfig.DefaultConfigTemplate, srvCfg
}

// initCometConfig returns CometBFT's defaults.
func initCometConfig() *cmtcfg.Config {
	return cmtcfg.DefaultConfig()
}
