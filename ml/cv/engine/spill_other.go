//go:build !unix

package engine

import "fmt"

func (t *Trainer) spill(dir string, idx []int) ([]float32, func(), error) {
	return nil, nil, fmt.Errorf("engine: spilling training rows to disk needs a unix system")
}
