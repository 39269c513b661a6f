package types

import (
	"github.com/cosmos/cosmos-sdk/codec"
	"github.com/cosmos/cosmos-sdk/codec/legacy"
	codectypes "github.com/cosmos/cosmos-sdk/codec/types"
	sdk "github.com/cosmos/cosmos-sdk/types"
	"github.com/cosmos/cosmos-sdk/types/msgservice"
)

// RegisterLegacyAminoCodec registers the Msgs for amino JSON signing.
func RegisterLegacyAminoCodec(cdc *codec.LegacyAmino) {
	cdc.RegisterConcrete(Params{}, "pouwml/x/pouwml/Params", nil)
	legacy.RegisterAminoMsg(cdc, &MsgUpdateParams{}, "pouwml/MsgUpdateParams")
	legacy.RegisterAminoMsg(cdc, &MsgRegisterDataset{}, "pouwml/MsgRegisterDataset")
	legacy.RegisterAminoMsg(cdc, &MsgRegisterWorker{}, "pouwml/MsgRegisterWorker")
	legacy.RegisterAminoMsg(cdc, &MsgUnbond{}, "pouwml/MsgUnbond")
	legacy.RegisterAminoMsg(cdc, &MsgSubmitTask{}, "pouwml/MsgSubmitTask")
	legacy.RegisterAminoMsg(cdc, &MsgCancelTask{}, "pouwml/MsgCancelTask")
	legacy.RegisterAminoMsg(cdc, &MsgClaimJob{}, "pouwml/MsgClaimJob")
	legacy.RegisterAminoMsg(cdc, &MsgSubmitResult{}, "pouwml/MsgSubmitResult")
	legacy.RegisterAminoMsg(cdc, &MsgSubmitEvaluation{}, "pouwml/MsgSubmitEvaluation")
	legacy.RegisterAminoMsg(cdc, &MsgCommitCheckpoint{}, "pouwml/MsgCommitCheckpoint")
	legacy.RegisterAminoMsg(cdc, &MsgSubmitProof{}, "pouwml/MsgSubmitProof")
	legacy.RegisterAminoMsg(cdc, &MsgSubmitVerdict{}, "pouwml/MsgSubmitVerdict")
	legacy.RegisterAminoMsg(cdc, &MsgRevealVerdict{}, "pouwml/MsgRevealVerdict")
}

// RegisterInterfaces registers the Msgs and the Msg service.
func RegisterInterfaces(registry codectypes.InterfaceRegistry) {
	registry.RegisterImplementations((*sdk.Msg)(nil),
		&MsgUpdateParams{},
		&MsgRegisterDataset{},
		&MsgRegisterWorker{},
		&MsgUnbond{},
		&MsgSubmitTask{},
		&MsgCancelTask{},
		&MsgClaimJob{},
		&MsgSubmitResult{},
		&MsgSubmitEvaluation{},
		&MsgCommitCheckpoint{},
		&MsgSubmitProof{},
		&MsgSubmitVerdict{},
		&MsgRevealVerdict{},
	)
	msgservice.RegisterMsgServiceDesc(registry, &_Msg_serviceDesc)
}
