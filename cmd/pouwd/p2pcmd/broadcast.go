package p2pcmd

import (
	"bytes"
	"fmt"
	"io"

	"github.com/spf13/pflag"

	"github.com/cosmos/cosmos-sdk/client"
	"github.com/cosmos/cosmos-sdk/client/flags"
	"github.com/cosmos/cosmos-sdk/client/tx"
	sdk "github.com/cosmos/cosmos-sdk/types"
)

// broadcast signs and sends msg as the tx flags say, for commands that
// report their own outcome in one line: with --yes and without
// --generate-only it prints nothing (not the SDK's "gas estimate" line nor
// the raw tx response) and returns the tx hash, or an error carrying the
// chain's log when the tx was refused. Otherwise (a confirmation prompt,
// --generate-only) it behaves exactly as the SDK's tx commands do,
// writing to out, and returns "".
func broadcast(clientCtx client.Context, fs *pflag.FlagSet, out io.Writer, msg sdk.Msg) (string, error) {
	if clientCtx.GenerateOnly || clientCtx.IsAux || !clientCtx.SkipConfirm {
		return "", tx.GenerateOrBroadcastTxCLI(clientCtx.WithOutput(out), fs, msg)
	}
	txf, err := tx.NewFactoryCLI(clientCtx, fs)
	if err != nil {
		return "", err
	}
	if txf, err = txf.Prepare(clientCtx); err != nil {
		return "", err
	}
	if txf.SimulateAndExecute() {
		// what BroadcastTx would do, without its print to os.Stderr
		_, adjusted, err := tx.CalculateGas(clientCtx, txf, msg)
		if err != nil {
			return "", err
		}
		txf = txf.WithGas(adjusted).WithSimulateAndExecute(false)
	}
	var buf bytes.Buffer
	if err := tx.BroadcastTx(clientCtx.WithOutput(&buf).WithOutputFormat(flags.OutputFormatJSON), txf, msg); err != nil {
		return "", err
	}
	var res sdk.TxResponse
	if err := clientCtx.Codec.UnmarshalJSON(buf.Bytes(), &res); err != nil {
		return "", fmt.Errorf("reading the tx response %q: %w", buf.String(), err)
	}
	if res.Code != 0 {
		return res.TxHash, fmt.Errorf("tx %s refused (code %d, codespace %s): %s", res.TxHash, res.Code, res.Codespace, res.RawLog)
	}
	return res.TxHash, nil
}

// inTx is " in tx HASH", or "" without a hash.
func inTx(hash string) string {
	if hash == "" {
		return ""
	}
	return " in tx " + hash
}
