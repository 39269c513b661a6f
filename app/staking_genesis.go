package app

import (
	"encoding/json"

	"github.com/cosmos/cosmos-sdk/codec"
	"github.com/cosmos/cosmos-sdk/x/staking"
	stakingtypes "github.com/cosmos/cosmos-sdk/x/staking/types"
)

// DefaultHistoricalEntries is x/staking's historical_entries in pouwd's
// default genesis: how many past blocks' header and validator set the chain
// keeps in state. The SDK's default, 10,000, serves IBC light clients, which
// pouwd has none of; nothing in pouwd reads x/staking's historical info. At
// one block a second 10,000 entries take 2.8 hours to fill, and each entry
// (a header and the validator set, about 1-2 KB with 4 validators) also sits
// in IAVL's fast-node cache, so a validator's live heap grew by 6-10 MB over
// the 2-hour soak from this alone (scripts/faults/findings.md, finding 20).
// A few hundred keep the GetHistoricalInfo query useful for recent heights
// while bounding that state to well under a megabyte from the first minutes.
const DefaultHistoricalEntries = 300

// stakingBasic is x/staking's AppModuleBasic with pouwd's default genesis
// (DefaultHistoricalEntries); everything else is the SDK's.
type stakingBasic struct{ staking.AppModuleBasic }

// DefaultGenesis returns x/staking's default genesis with historical_entries
// set to DefaultHistoricalEntries.
func (stakingBasic) DefaultGenesis(cdc codec.JSONCodec) json.RawMessage {
	gs := stakingtypes.DefaultGenesisState()
	gs.Params.HistoricalEntries = DefaultHistoricalEntries
	return cdc.MustMarshalJSON(gs)
}
