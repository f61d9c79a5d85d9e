package core

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The object-store answers (refused credentials) are tested against real
// servers in tests/python; these are the local ones.
func TestCheckContainer(t *testing.T) {
	Init()
	dir := t.TempDir()
	if err := checkContainer(dir); err != nil {
		t.Fatalf("an empty directory can be listed: %v", err)
	}
	err := checkContainer(filepath.Join(dir, "missing"))
	if StatusOf(err) != StatusNotFound {
		t.Fatalf("a missing directory: got %v (%v), want NOT_FOUND", StatusOf(err), err)
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
	if StatusOf(err) != StatusNotFound {
		t.Fatalf("a missing directory: got %v (%v), want NOT_FOUND", StatusOf(err), err)
	}
}

// GDAL 3.6 reads its HTTP timeouts only from the global or the thread's
// configuration: a store's own reach GDAL's calls (pinned), so a server that
// takes connections and never answers fails every call soon, as an IO error
// (not a missing object).
func TestStoreTimeoutsReachGDAL(t *testing.T) {
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	if _, err := ConfigureStorage("s3://silent", []string{"AWS_S3_ENDPOINT=" + silent.Addr().String(), "AWS_HTTPS=NO",
		"AWS_VIRTUAL_HOSTING=FALSE", "AWS_ACCESS_KEY_ID=id", "AWS_SECRET_ACCESS_KEY=secret-for-the-silent-test",
		"GDAL_HTTP_TIMEOUT=1", "GDAL_HTTP_MAX_RETRY=0"}, true); err != nil {
		t.Fatal(err)
	}
	for what, call := range map[string]func() error{
		"list":          func() error { _, err := List("s3://silent/"); return err },
		"object exists": func() error { _, err := Exists("s3://silent/dem.tif"); return err },
		"bucket exists": func() error { _, err := Exists("s3://silent"); return err },
		"open":          func() error { _, err := OpenDataset("s3://silent/dem.tif"); return err },
		"delete":        func() error { return Delete("s3://silent/dem.tif") },
	} {
		start := time.Now()
		err := call()
		wantStatus(t, err, StatusIO, what)
		if took := time.Since(start); took > 15*time.Second {
			t.Errorf("%s: failed after %v, with a 1 s timeout", what, took)
		}
		if strings.Contains(err.Error(), "secret-for-the-silent-test") {
			t.Errorf("%s: %v", what, err)
		}
	}
}
