// Package engine adapts pouwd's training engine (package ml, on an
// accel.Backend) to ml/cv's Trainer and Model interfaces, so that
// cross-validation and grid search train real MLP/CNN models on prepared
// datasets (ml/data). Model names are the engine's spec strings
// ("mlp:784-128-10", "cnn:1x28x28-2x16-10,bn"); "centroid" selects the
// nearest-centroid baseline from ml/cv.
//
// It must never change how the engine computes (it only gathers samples
// and calls ml.NewModel, ml.NewTrainer, Run and Logits), never hold more
// than one fold's training copy per running job, and never import the
// chain module.
package engine
