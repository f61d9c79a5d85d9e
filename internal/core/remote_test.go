package core

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// Blocks that several tiles need (strips wider than the tiles, blocks taller
// than them, blocks under a halo) are fetched and decoded once and shared;
// every tile must still equal the source, whatever the worker count.
func TestTileReaderSharedBlocks(t *testing.T) {
	const rows, cols = 203, 157
	for _, c := range []struct {
		bands int
		opts  []string
	}{
		{1, []string{"COMPRESS=DEFLATE", "BLOCKYSIZE=3", "PREDICTOR=2"}},
		{3, []string{"COMPRESS=DEFLATE", "BLOCKYSIZE=5", "INTERLEAVE=BAND"}},
		{2, []string{"COMPRESS=ZSTD", "BLOCKYSIZE=4", "INTERLEAVE=PIXEL"}},
		{2, []string{"TILED=YES", "BLOCKXSIZE=96", "BLOCKYSIZE=64", "COMPRESS=DEFLATE", "INTERLEAVE=BAND"}},
	} {
		data := cells(UInt16, c.bands, rows, cols, 9)
		path := gtiff(t, tmpPath(t, "s.tif"), UInt16, c.bands, rows, cols, data, c.opts...)
		for _, o := range []ReaderOptions{
			{TileRows: 20, TileCols: 30, Workers: 8},
			{TileRows: 32, TileCols: 40, Halo: 3, Workers: 16, Prefetch: 3},
			{TileRows: 50, TileCols: 50, Overlap: 7, Workers: 1, Spec: ReadSpec{Bands: []int{c.bands}}},
		} {
			r, err := OpenTileReader(path, o)
			if err != nil {
				t.Fatal(err)
			}
			if r.ds.raw == nil {
				t.Fatalf("%v: not decoded directly", c.opts)
			}
			bands := c.bands
			if len(o.Spec.Bands) > 0 {
				bands = 1
			}
			buf := make([]byte, r.BufferLen())
			for {
				tile, ok, err := r.Next(buf)
				if err != nil {
					t.Fatal(err)
				}
				if !ok {
					break
				}
				want := clampedRead(data, 2, c.bands, rows, cols, tile.Padded, nil)
				if bands == 1 && c.bands > 1 {
					band := int64(len(want) / c.bands)
					want = want[int64(c.bands-1)*band:]
				}
				if !bytes.Equal(buf[:len(want)], want) {
					t.Fatalf("%v %+v: tile %v differs", c.opts, o, tile.Window)
				}
			}
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// A strip that fails to read fails every tile that shares it, and none of
// them waits for ever.
func TestTileReaderSharedBlockFailure(t *testing.T) {
	data := cells(Float32, 1, 300, 300, 4)
	path := gtiff(t, tmpPath(t, "s.tif"), Float32, 1, 300, 300, data, "COMPRESS=DEFLATE", "BLOCKYSIZE=10")
	r, err := OpenTileReader(path, ReaderOptions{TileRows: 100, TileCols: 30, Workers: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	st, _ := os.Stat(path)
	os.Truncate(path, st.Size()/2)
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, r.BufferLen())
		for {
			if _, ok, err := r.Next(buf); err != nil || !ok {
				done <- err
				return
			}
		}
	}()
	select {
	case err := <-done:
		if StatusOf(err) != StatusIO {
			t.Fatalf("truncated strips: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("reading truncated shared strips hangs")
	}
}

// countingServer serves dir over HTTP with Range requests on 127.0.0.1 and
// counts requests and bytes sent.
func countingServer(t *testing.T, dir string) (url string, requests, sent *atomic.Int64) {
	requests, sent = new(atomic.Int64), new(atomic.Int64)
	files := http.FileServer(http.Dir(dir))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		files.ServeHTTP(countingWriter{w, sent}, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, requests, sent
}

type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (c countingWriter) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// Over HTTP every tile of a COG costs one range request per row of blocks it
// covers, and the file is transferred about once; a striped file too,
// though each strip is shared by every tile across.
func TestRemoteTilesFetchRunsOnce(t *testing.T) {
	dir := t.TempDir()
	const side = 2048
	data := cells(Float32, 1, side, side, 6)
	cog := filepath.Join(dir, "cog.tif")
	if err := WriteCOGBuffer(data, Float32, 1, side, side, Georef{}, cog, COGOptions{Options: []string{"BLOCKSIZE=256"}}); err != nil {
		t.Fatal(err)
	}
	gtiff(t, filepath.Join(dir, "strips.tif"), Float32, 1, side, side, data, "COMPRESS=DEFLATE", "BLOCKYSIZE=8")
	base, requests, sent := countingServer(t, dir)
	if _, err := ConfigureStorage(base, []string{"GDAL_DISABLE_READDIR_ON_OPEN=EMPTY_DIR"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		file        string
		maxRequests int64 // beyond opening the file
	}{
		{"cog.tif", (side / 512) * (side / 512) * 2}, // 512 x 512 tiles over 2 rows of 256 x 256 blocks
		{"strips.tif", 2 * side * side * 4 / maxRunBytes},
	} {
		name := "/vsicurl/" + base + "/" + c.file
		r, err := OpenTileReader(name, ReaderOptions{TileRows: 512, TileCols: 512})
		if err != nil {
			t.Fatal(err)
		}
		if r.ds.raw == nil {
			t.Fatalf("%s: not decoded directly", c.file)
		}
		opened, openedBytes := requests.Load(), sent.Load()
		buf := make([]byte, r.BufferLen())
		for {
			tile, ok, err := r.Next(buf)
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
			if want := clampedRead(data, 4, 1, side, side, tile.Padded, nil); !bytes.Equal(buf[:len(want)], want) {
				t.Fatalf("%s: tile %v differs", c.file, tile.Window)
			}
		}
		r.Close()
		st, _ := os.Stat(filepath.Join(dir, c.file))
		n, b := requests.Load()-opened, sent.Load()-openedBytes
		fmt.Printf("%s: %d requests, %d bytes after opening (file %d bytes)\n", c.file, n, b, st.Size())
		if n > c.maxRequests {
			t.Errorf("%s: %d requests for the tiles, want at most %d", c.file, n, c.maxRequests)
		}
		if float64(b) > 1.1*float64(st.Size()) {
			t.Errorf("%s: %d bytes sent for a %d-byte file", c.file, b, st.Size())
		}
		requests.Store(0)
		sent.Store(0)
	}
}
