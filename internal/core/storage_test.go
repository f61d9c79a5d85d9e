package core

import (
	"os"
	"path/filepath"
	"testing"
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
