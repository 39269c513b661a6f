package pouwml

import (
	autocliv1 "cosmossdk.io/api/cosmos/autocli/v1"
)

const (
	queryService = "pouwml.v1.Query"
	msgService   = "pouwml.v1.Msg"
)

// AutoCLIOptions builds `pouwd q pouwml ...` and `pouwd tx pouwml ...` from
// the gRPC services. Nested fields (erasure code, configs, cv, deadlines,
// metrics) are flags taking JSON.
func (AppModule) AutoCLIOptions() *autocliv1.ModuleOptions {
	pos := func(fields ...string) []*autocliv1.PositionalArgDescriptor {
		out := make([]*autocliv1.PositionalArgDescriptor, len(fields))
		for i, f := range fields {
			out[i] = &autocliv1.PositionalArgDescriptor{ProtoField: f}
		}
		return out
	}
	return &autocliv1.ModuleOptions{
		Query: &autocliv1.ServiceCommandDescriptor{
			Service:              queryService,
			EnhanceCustomCommand: true, // added to GetQueryCmd's custom commands
			RpcCommandOptions: []*autocliv1.RpcCommandOptions{
				{RpcMethod: "Params", Use: "params", Short: "Show the pouwml params"},
				{RpcMethod: "Dataset", Use: "dataset [id]", Short: "Show a dataset", PositionalArgs: pos("id")},
				{RpcMethod: "Datasets", Use: "datasets", Short: "List datasets"},
				{RpcMethod: "Task", Use: "task [id]", Short: "Show a task", PositionalArgs: pos("id")},
				{RpcMethod: "Tasks", Use: "tasks", Short: "List tasks (--status TASK_STATUS_OPEN to filter)"},
				{RpcMethod: "TaskJobs", Use: "jobs [task-id]", Short: "List a task's jobs", PositionalArgs: pos("task_id")},
				{RpcMethod: "Job", Use: "job [task-id] [job-index]", Short: "Show a job", PositionalArgs: pos("task_id", "job_index")},
				{RpcMethod: "Worker", Use: "worker [address]", Short: "Show a worker", PositionalArgs: pos("address")},
				{RpcMethod: "Workers", Use: "workers", Short: "List workers (--role WORKER_ROLE_MINER to filter)"},
				{RpcMethod: "Evaluations", Use: "evaluations [task-id] [job-index]", Short: "List a job's verifier evaluations", PositionalArgs: pos("task_id", "job_index")},
				{RpcMethod: "CVTable", Skip: true}, // client/cli: a table in percent, ppm with -o json
				{RpcMethod: "Commitments", Use: "commitments [task-id] [job-index]", Short: "List a job's checkpoint commitments", PositionalArgs: pos("task_id", "job_index")},
				{RpcMethod: "Proof", Use: "proof [id]", Short: "Show a work proof", PositionalArgs: pos("id")},
				{RpcMethod: "Proofs", Use: "proofs", Short: "List work proofs"},
				{RpcMethod: "Verdicts", Use: "verdicts [proof-id]", Short: "List a proof's committed and revealed verdicts", PositionalArgs: pos("proof_id")},
				{RpcMethod: "Lottery", Use: "lottery", Short: "Show the lottery target (and --anchor-height's anchor)"},
			},
		},
		Tx: &autocliv1.ServiceCommandDescriptor{
			Service: msgService,
			RpcCommandOptions: []*autocliv1.RpcCommandOptions{
				{RpcMethod: "UpdateParams", Skip: true}, // governance only
				{RpcMethod: "RegisterDataset", Use: "register-dataset [name]", Short: "Register a canonical dataset and its erasure-coded shards", PositionalArgs: pos("name")},
				{RpcMethod: "RegisterWorker", Use: "register-worker [role] [bond] [peer-id]", Short: "Bond as a miner, verifier or storage peer (or add to a bond)", PositionalArgs: pos("role", "bond", "peer_id")},
				{RpcMethod: "Unbond", Use: "unbond", Short: "Start returning your worker bond"},
				{
					RpcMethod: "SubmitTask", Use: "submit-task [dataset-id] [fee]", Short: "Submit a cross-validation task with an escrowed fee", PositionalArgs: pos("dataset_id", "fee"),
					Long: `Submits a task: every --configs entry (one per configuration of the search
space) is cross-validated with --cv's K folds on the dataset's training and
validation samples; the chain makes one job per (configuration, fold), draws
the folds from the next block's hash, escrows the fee and pays it out to the
miners and verifiers of settled jobs (the rest is refunded).

A configuration's "layers" encode its architecture:
  mlp          [IN, H1, ..., OUT]        Linear widths; IN = the product of the
                                         dataset's sample shape, OUT = its classes
  cnn          [W, 2W, 4W, ...]          channels of each 3x3 conv + 2x2 pool block
                                         (1 to 16 blocks); [C,H,W] samples
  resnet       [BLOCK, WIDTH, D1, ...]   BLOCK 1 basic, 2 bottleneck; WIDTH the first
                                         stage's channels; Di blocks of stage i (1 to 8
                                         stages; 4 or more get the ImageNet stem)
  transformer  [LAYERS, DIM, HEADS, VOCAB, MLP_RATIO, FLAGS]  the last two optional
                                         (4 and 0); FLAGS adds 1 causal, 2 sinusoidal
                                         positions, 4 head on the last token; HEADS
                                         divides DIM; [SEQ] samples of token ids
  vit          [PATCH, LAYERS, DIM, HEADS, MLP_RATIO]  MLP_RATIO optional (4); PATCH
                                         divides H and W; [C,H,W] samples
Every configuration must fit the dataset and have at most the params'
max_model_params trainable parameters, or the task is refused.`,
					Example: `pouwd tx pouwml submit-task 1 600000upouw --from client \
  --configs '{"architecture":"mlp","layers":[784,32,10],"learning_rate_e9":"100000000","batch_size":64,"epochs":1,"optimizer":"OPTIMIZER_SGD","precision":"PRECISION_FP32"}' \
  --configs '{"architecture":"resnet","layers":[1,16,3,3,3],"learning_rate_e9":"100000000","batch_size":64,"epochs":1,"optimizer":"OPTIMIZER_SGD","momentum_e9":"900000000","precision":"PRECISION_FP32"}' \
  --configs '{"architecture":"vit","layers":[7,4,64,4],"learning_rate_e9":"1000000","batch_size":64,"epochs":1,"optimizer":"OPTIMIZER_ADAMW","precision":"PRECISION_FP32"}' \
  --cv '{"folds":3,"stratified":true,"metric":"METRIC_ACCURACY"}' --seed 7 \
  --deadlines '{"claim_blocks":"600","training_blocks":"600","evaluation_blocks":"200"}'

# a causal next-byte Transformer (FLAGS 1 + 4) on a text dataset of 64-byte windows
pouwd tx pouwml submit-task 2 400000upouw --from client \
  --configs '{"architecture":"transformer","layers":[4,128,4,256,4,5],"learning_rate_e9":"1000000","batch_size":32,"epochs":1,"optimizer":"OPTIMIZER_ADAMW","precision":"PRECISION_FP32"}' \
  --cv '{"folds":2,"stratified":false,"metric":"METRIC_ACCURACY"}' --seed 7 \
  --deadlines '{"claim_blocks":"600","training_blocks":"6000","evaluation_blocks":"200"}'`,
					FlagOptions: map[string]*autocliv1.FlagOptions{
						"configs":           {Usage: "a model configuration as JSON (repeat for each): architecture (mlp|cnn|resnet|transformer|vit), layers (the architecture's encoding, see above: mlp widths input..output, cnn channels, resnet [block, width, blocks per stage...], transformer [layers, dim, heads, vocab, mlp ratio, flags], vit [patch, layers, dim, heads, mlp ratio]), learning_rate_e9 (learning rate x 1e9, as a string), batch_size, epochs, optimizer (OPTIMIZER_SGD|ADAM|ADAMW), momentum_e9, weight_decay_e9, precision (PRECISION_FP32|BF16|FP16)"},
						"cv":                {Usage: "cross-validation as JSON: folds (K), stratified (bool), metric (METRIC_ACCURACY|F1_MACRO|PRECISION_MACRO|RECALL_MACRO)"},
						"deadlines":         {Usage: "deadlines in blocks as JSON: claim_blocks (to claim a job), training_blocks (from claim to result), evaluation_blocks (for the verifiers' evaluations); each at least 1 and at most the params' max_*_blocks"},
						"seed":              {Usage: "training seed of every job (initial weights, batch order)"},
						"verifiers_per_job": {Usage: "verifiers assigned to each job (0: the params' default)"},
					},
				},
				{RpcMethod: "CancelTask", Use: "cancel-task [task-id]", Short: "Cancel a task no job of which was claimed", PositionalArgs: pos("task_id")},
				{RpcMethod: "ClaimJob", Use: "claim-job [task-id] [job-index]", Short: "Claim an open job", PositionalArgs: pos("task_id", "job_index")},
				{RpcMethod: "SubmitResult", Use: "submit-result [task-id] [job-index] [model-hash-base64]", Short: "Submit a trained model's hash and claimed fold metrics", PositionalArgs: pos("task_id", "job_index", "model_hash")},
				{RpcMethod: "SubmitEvaluation", Use: "submit-evaluation [task-id] [job-index] [model-hash-base64]", Short: "Submit measured fold metrics of an assigned job", PositionalArgs: pos("task_id", "job_index", "model_hash")},
				{RpcMethod: "CommitCheckpoint", Use: "commit-checkpoint [task-id] [job-index] [step] [weights-hash-base64] [optimizer-hash-base64]", Short: "Commit the weights hash and optimizer state hash of a claimed job at a step", PositionalArgs: pos("task_id", "job_index", "step", "weights_hash", "optimizer_hash")},
				{RpcMethod: "SubmitProof", Use: "submit-proof [task-id] [job-index] [step] [commit-step]", Short: "Submit a winning lottery ticket of a training step", PositionalArgs: pos("task_id", "job_index", "step", "commit_step")},
				{RpcMethod: "SubmitVerdict", Use: "submit-verdict [proof-id] [commitment-base64]", Short: "Commit a hidden verdict on an assigned proof", PositionalArgs: pos("proof_id", "commitment")},
				{RpcMethod: "RevealVerdict", Use: "reveal-verdict [proof-id]", Short: "Reveal a committed verdict (--accept, --digest, --salt)", PositionalArgs: pos("proof_id")},
			},
		},
	}
}
