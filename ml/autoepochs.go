package ml

// AutoMinSteps is how many optimizer steps AutoEpochs aims for: enough for
// SGD at the default learning rate to fit small tabular data (a few
// hundred samples take one step an epoch), while a dataset the size of
// MNIST still trains for one epoch.
const AutoMinSteps = 500

// AutoEpochs is the default number of epochs for trainSamples samples at
// batch size batch: the fewest whole epochs that give AutoMinSteps steps
// (at least 1). It depends only on its arguments, so a
// configuration's epochs, and with them its bits, are fixed before
// training starts.
func AutoEpochs(trainSamples, batch int) int {
	if trainSamples <= 0 || batch <= 0 {
		return 1
	}
	perEpoch := max(trainSamples/batch, 1) // the trainer drops a partial last batch
	e := (AutoMinSteps + perEpoch - 1) / perEpoch
	return max(e, 1)
}

// AutoBatch is the default batch size for trainSamples samples: 64, or on
// a dataset too small for that the largest power of two that still gives
// four batches an epoch (at least 1).
func AutoBatch(trainSamples int) int {
	b := 64
	for b > 1 && b*4 > trainSamples {
		b /= 2
	}
	return b
}
