package devtrain

import "errors"

// ErrUnsupported marks a model, optimizer or setting that has no device
// path yet: the run can still train on the host path.
var ErrUnsupported = errors.New("no resident device path")
