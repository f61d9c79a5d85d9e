package storage

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/cloudio-dem/cloudio/internal/gdalc"
	"github.com/cloudio-dem/cloudio/internal/raster"
)

// The object-store answers (refused credentials) are tested against real
// servers in tests/python; these are the local ones.
func TestCheckPrefix(t *testing.T) {
	gdalc.Init()
	dir := t.TempDir()
	if err := checkPrefix(dir, false); err != nil {
		t.Fatalf("an empty directory can be listed: %v", err)
	}
	err := checkPrefix(filepath.Join(dir, "missing"), false)
	if raster.StatusOf(err) != raster.StatusNotFound {
		t.Fatalf("a missing directory: got %v (%v), want NOT_FOUND", raster.StatusOf(err), err)
	}
}

func TestListEmptyAndMissing(t *testing.T) {
	dir := t.TempDir()
	names, err := List(dir)
	if err != nil || len(names) != 0 {
		t.Fatalf("an empty directory: got %v, %v", names, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "a.tif"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if names, err := List(dir); err != nil || len(names) != 1 || names[0] != "a.tif" {
		t.Fatalf("one file: got %v, %v", names, err)
	}
	_, err = List(filepath.Join(dir, "missing"))
	if raster.StatusOf(err) != raster.StatusNotFound {
		t.Fatalf("a missing directory: got %v (%v), want NOT_FOUND", raster.StatusOf(err), err)
	}
}

// No secret leaves the library in a message: the configured ones, and
// anything shaped like a credential.
func TestScrubSecrets(t *testing.T) {
	if _, err := ConfigureStorage("s3://scrub-test", []string{"AWS_SECRET_ACCESS_KEY=configured-secret-1", "AWS_ACCESS_KEY_ID=visible-id",
		"GDAL_HTTP_HEADERS=X-Api: header-secret-2"}, true); err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		"signing with configured-secret-1 failed":                               "signing with *** failed",
		"header X-Api: header-secret-2":                                         "header ***",
		`cannot open "/vsicurl/https://ann:pass-3@host/dem.tif"`:                `cannot open "/vsicurl/https://***@host/dem.tif"`,
		"HTTP response code on https://a.blob/c/b.tif?sv=2020&sig=abc%2B4: 403": "HTTP response code on https://a.blob/c/b.tif?sv=2020&sig=***: 403",
		"GET /k?X-Amz-Signature=deadbeef&X-Amz-Date=1":                          "GET /k?X-Amz-Signature=***&X-Amz-Date=1",
		"Authorization: Bearer eyJhbGci.tok5":                                   "Authorization: Bearer ***",
		"AccountName=a;AccountKey=k6k6k6==;BlobEndpoint=x":                      "AccountName=a;AccountKey=***;BlobEndpoint=x",
		"user visible-id": "user visible-id",
	} {
		if got := ScrubSecrets(in); got != want {
			t.Errorf("ScrubSecrets(%q) = %q, want %q", in, got, want)
		}
	}
	// A caller's options, not configured: their secret values too; an entry without "=" whole.
	got := ScrubSecretsOf("held-secret-7 bare-entry-8 visible-value-9", []string{"AWS_SECRET_ACCESS_KEY=held-secret-7", "bare-entry-8", "AWS_REGION=visible-value-9"})
	if got != "*** *** visible-value-9" {
		t.Errorf("ScrubSecretsOf = %q", got)
	}
	for _, k := range []string{"GDAL_HTTP_USERPWD", "GDAL_HTTP_HEADERS", "AZURE_STORAGE_SAS_TOKEN", "AWS_SESSION_TOKEN", "AZURE_STORAGE_ACCESS_KEY"} {
		if !IsSecretOption(k) {
			t.Errorf("%s is not taken for a secret", k)
		}
	}
	if IsSecretOption("AWS_ACCESS_KEY_ID") || IsSecretOption("AWS_S3_ENDPOINT") {
		t.Error("a user name or an endpoint taken for a secret")
	}
}

// Names of one raster are recognised however they are spelled.
func TestSameRaster(t *testing.T) {
	for _, c := range [][2]string{{"/vsis3/b/k.tif", "/vsis3/b/./k.tif"}, {"/vsis3/b/a/../k.tif", "/vsis3/b/k.tif"}, {"/vsis3_streaming/b/k.tif", "/vsis3/b/k.tif"},
		{`ZARR:"/data/dem.zarr":/dem`, "/data/dem.zarr"}, {"/vsimem/x.tif", "/vsimem//x.tif"}} {
		if !sameRaster(c[0], c[1]) {
			t.Errorf("%q and %q name the same raster", c[0], c[1])
		}
	}
	for _, c := range [][2]string{{"/vsis3/b/k.tif", "/vsis3/c/k.tif"}, {"/vsis3/b/k.tif", "/vsigs/b/k.tif"}, {"/data/src.tif", "/data/other.tif"}} {
		if sameRaster(c[0], c[1]) {
			t.Errorf("%q and %q are different rasters", c[0], c[1])
		}
	}
}

// A local file is read directly, never through the fetcher.
func TestNoFetcherForLocalFiles(t *testing.T) {
	if newRangeFetcher(filepath.Join(t.TempDir(), "dem.tif")) != nil {
		t.Error("a fetcher for a local file")
	}
}
