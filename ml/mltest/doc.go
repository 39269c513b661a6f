// Package mltest holds the fixtures that more than one package's tests
// train on and pin: the synthetic golden datasets of package ml's ResNet,
// Transformer and ViT golden tests, and the SHA-256 of the weights those
// runs end with. ml's golden tests and ml/devtrain's resident goldens both
// read them here, so a device run is checked against the very numbers the
// host path is pinned to. Only tests import it.
package mltest
