package tiff_test

import (
	"os"
	"testing"

	"github.com/airbusgeo/godal"
)

func TestMain(m *testing.M) {
	godal.RegisterAll()
	os.Exit(m.Run())
}
