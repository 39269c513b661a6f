package app

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	storetypes "github.com/cosmos/cosmos-sdk/store/v2/types"
	sdk "github.com/cosmos/cosmos-sdk/types"

	pouwmlkeeper "github.com/pouw/pouwd/x/pouwml/keeper"
)

// ChainMetricsCollector returns the Prometheus collector of x/pouwml's
// state (the pouw_chain_* series of docs/MONITORING.md). It reads the
// latest committed height through a query context, as a gRPC query does,
// never the state a block is being executed on; the command that starts
// the node registers it where CometBFT's instrumentation server gathers.
func (app *PouwApp) ChainMetricsCollector() prometheus.Collector {
	return pouwmlkeeper.NewMetricsCollector(app.PouwmlKeeper, app.latestQueryContext, app.Logger())
}

// latestQueryContext is a read-only context on the latest committed
// version. The version is named explicitly rather than as 0 ("latest"):
// for 0 the SDK also insists that the check state's header is at that
// height, which fails for a moment around every commit. The version is
// immutable once committed, so reading it races with nothing. Scrapes are
// not user queries: no gas limit applies.
func (app *PouwApp) latestQueryContext() (sdk.Context, error) {
	h := app.CommitMultiStore().LatestVersion()
	if h <= 0 {
		return sdk.Context{}, errors.New("no block committed yet")
	}
	ctx, err := app.CreateQueryContext(h, false)
	if err != nil {
		return sdk.Context{}, err
	}
	return ctx.WithGasMeter(storetypes.NewInfiniteGasMeter()), nil
}
