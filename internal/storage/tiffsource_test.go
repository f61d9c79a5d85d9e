package storage

import (
	"bytes"
	"math/rand"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/cloudio-dem/cloudio/internal/raster"
)

// One VSI adapter serves validate's serial reads and the direct decoder's
// concurrent ones: reads at once each take a handle of their own, and Close
// releases them all.
func TestVSISourceConcurrentReads(t *testing.T) {
	data := make([]byte, 1<<20)
	rand.New(rand.NewSource(3)).Read(data)
	path := filepath.Join(t.TempDir(), "bytes.bin")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := OpenVSISource(path)
	if err != nil {
		t.Fatal(err)
	}
	if s.Size() != int64(len(data)) {
		t.Fatalf("size %d, want %d", s.Size(), len(data))
	}
	var wg sync.WaitGroup
	bad := make(chan string, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(seed int64) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(seed))
			for i := 0; i < 300; i++ {
				off, n := rng.Intn(len(data)-4096), 1+rng.Intn(4096)
				p := make([]byte, n)
				if got, err := s.ReadAt(p, int64(off)); err != nil || got != n || !bytes.Equal(p, data[off:off+n]) {
					bad <- "a concurrent read differs"
					return
				}
			}
		}(int64(g))
	}
	wg.Wait()
	close(bad)
	for msg := range bad {
		t.Fatal(msg)
	}
	if n, err := s.ReadAt(make([]byte, 10), int64(len(data))-4); n != 4 || err == nil {
		t.Errorf("a read past the end: %d bytes, %v", n, err)
	}
	s.Close()
	s.Close()
	if _, err := s.ReadAt(make([]byte, 1), 0); raster.StatusOf(err) != raster.StatusInvalidArgument {
		t.Errorf("a read after Close: %v", err)
	}
	if len(s.idle) != 0 {
		t.Errorf("%d handles left open", len(s.idle))
	}
}
