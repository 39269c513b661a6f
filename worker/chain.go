package worker

import (
	"context"

	sdk "github.com/cosmos/cosmos-sdk/types"
	"google.golang.org/grpc"

	"github.com/pouw/pouwd/chainclient"
	"github.com/pouw/pouwd/x/pouwml/types"
)

// Tx is the signing side of a chain client: the account it signs as and
// the broadcast of messages in one tx (returned once the tx is included).
type Tx interface {
	Address() sdk.AccAddress
	Broadcast(ctx context.Context, msgs ...sdk.Msg) (*sdk.TxResponse, error)
}

// Chain is what bonding needs (EnsureBonded): the signer, the module's
// parameters and the worker record. The daemons' own Chain interfaces
// (miner.Chain, verifier.Chain) extend it with the queries they make.
type Chain interface {
	Tx
	Params(ctx context.Context, in *types.QueryParamsRequest, opts ...grpc.CallOption) (*types.QueryParamsResponse, error)
	Worker(ctx context.Context, in *types.QueryWorkerRequest, opts ...grpc.CallOption) (*types.QueryWorkerResponse, error)
}

// Client adapts a *chainclient.Client to the daemons' chain interfaces:
// its x/pouwml queries (types.QueryClient) and its Address and Broadcast
// as methods of one value.
type Client struct {
	*chainclient.Client
	types.QueryClient
}

// NewClient wraps cc.
func NewClient(cc *chainclient.Client) *Client { return &Client{Client: cc, QueryClient: cc.Query} }
