package storage

import (
	"strings"
	"testing"

	"github.com/cloudio-dem/cloudio/internal/raster"
)

func TestStorePrefixEndsInOneSlashAndRefusesWhatIsNoStore(t *testing.T) {
	for url, want := range map[string]string{"s3://dems": "s3://dems/", "s3://dems/tiles/": "s3://dems/tiles/",
		"https://host/data": "https://host/data/", "/vsiaz/container": "/vsiaz/container/"} {
		got, err := StorePrefix(url, false)
		if err != nil || got != want {
			t.Errorf("StorePrefix(%q) = %q, %v; want %q", url, got, err, want)
		}
	}
	for _, url := range []string{"", "/tmp/local", "relative/dir"} {
		if _, err := StorePrefix(url, false); raster.StatusOf(err) != raster.StatusInvalidArgument {
			t.Errorf("StorePrefix(%q) = %v, want an invalid-argument error", url, err)
		}
	}
	if _, err := StorePrefix("s3://dems", true); err != nil {
		t.Errorf("an S3 bucket is writable: %v", err)
	}
	for _, url := range []string{"https://host/data", "HTTP://host/data", "/vsicurl/https://host/data"} {
		if _, err := StorePrefix(url, true); raster.StatusOf(err) != raster.StatusInvalidArgument || !strings.Contains(err.Error(), "read-only") {
			t.Errorf("StorePrefix(%q, writable) = %v, want a read-only error", url, err)
		}
	}
}

func TestCoversNamesUnderThePrefixOnly(t *testing.T) {
	cases := []struct {
		prefix, name string
		want         bool
	}{
		{"s3://dems/", "s3://dems/a.tif", true},
		{"s3://dems/", "s3://dems", true},
		{"s3://dems", "S3://dems/tiles/a.tif", true},
		{"s3://dems/", "/vsis3/dems/a.tif", true},
		{"s3://dems/", `ZARR:"s3://dems/x.zarr":/dem`, true},
		{"gs://b/", "gcs://b/a.tif", true},
		{"https://host/data/", "https://host/data/a.tif", true},
		{"s3://dems/", "s3://dems2/a.tif", false},
		{"s3://dems/tiles/", "s3://dems/tiles2/a.tif", false},
		{"s3://dems/", `ZARR:"s3://dems2/x.zarr":/dem`, false},
		{"s3://dems/", "gs://dems/a.tif", false},
		{"s3://dems/", "/tmp/dems/a.tif", false},
	}
	for _, c := range cases {
		if got, err := Covers(c.prefix, c.name); err != nil || got != c.want {
			t.Errorf("Covers(%q, %q) = %v, %v; want %v", c.prefix, c.name, got, err, c.want)
		}
	}
	if _, err := Covers("/tmp/local", "/tmp/local/a.tif"); raster.StatusOf(err) != raster.StatusInvalidArgument {
		t.Errorf("a local prefix is no store: %v", err)
	}
}
