//go:build !linux

package tiff

import (
	"errors"
	"os"
)

func insertRangeBlock(*os.File) (int64, error) { return 0, nil }

func insertRange(*os.File, int64) error { return errors.New("inserting a range needs Linux") }
