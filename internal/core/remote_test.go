package core

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloudio-dem/cloudio/internal/raster"
	"github.com/cloudio-dem/cloudio/internal/storage"
	"github.com/cloudio-dem/cloudio/internal/tiff"
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
		data := cells(raster.UInt16, c.bands, rows, cols, 9)
		path := gtiff(t, tmpPath(t, "s.tif"), raster.UInt16, c.bands, rows, cols, data, c.opts...)
		for _, o := range []ReaderOptions{
			{TileRows: 20, TileCols: 30, Workers: 8},
			{TileRows: 32, TileCols: 40, Halo: 3, Workers: 16, Prefetch: 3},
			{TileRows: 50, TileCols: 50, Overlap: 7, Workers: 1, Spec: raster.ReadSpec{Bands: []int{c.bands}}},
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
			eachTile(t, r, func(tile Tile, buf []byte) {
				want := clampedRead(data, 2, c.bands, rows, cols, tile.Padded, nil)
				if bands == 1 && c.bands > 1 {
					band := int64(len(want) / c.bands)
					want = want[int64(c.bands-1)*band:]
				}
				if !bytes.Equal(buf[:len(want)], want) {
					t.Fatalf("%v %+v: tile %v differs", c.opts, o, tile.Window)
				}
			})
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// A strip that fails to read fails every tile that shares it, and none of
// them waits for ever.
func TestTileReaderSharedBlockFailure(t *testing.T) {
	data := cells(raster.Float32, 1, 300, 300, 4)
	path := gtiff(t, tmpPath(t, "s.tif"), raster.Float32, 1, 300, 300, data, "COMPRESS=DEFLATE", "BLOCKYSIZE=10")
	r, err := OpenTileReader(path, ReaderOptions{TileRows: 100, TileCols: 30, Workers: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	st, _ := os.Stat(path)
	os.Truncate(path, st.Size()/2)
	if err := readToEnd(t, r); raster.StatusOf(err) != raster.StatusIO {
		t.Fatalf("truncated strips: %v", err)
	}
}

// rangeServer starts tests/rangeserver on dir: HTTP with Range requests
// on 127.0.0.1, counting requests and bytes sent.
func rangeServer(t *testing.T, dir string) string {
	t.Helper()
	exe := filepath.Join(t.TempDir(), "rangeserver")
	if out, err := exec.Command("go", "build", "-o", exe, "../../tests/rangeserver").CombinedOutput(); err != nil {
		t.Fatalf("building tests/rangeserver: %v\n%s", err, out)
	}
	cmd := exec.Command(exe, dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	base, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(base)
}

// served returns the server's request and byte counts since the last call,
// and resets them.
func served(t *testing.T, base string) (requests, bytes int64) {
	t.Helper()
	resp, err := http.Get(base + "/__stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var stats struct{ Requests, Bytes int64 }
	if err := json.NewDecoder(resp.Body).Decode(&stats); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Post(base+"/__reset", "text/plain", nil); err != nil {
		t.Fatal(err)
	}
	return stats.Requests, stats.Bytes
}

// Over HTTP every tile of a COG costs one range request per row of blocks it
// covers, and the file is transferred about once; a striped file too,
// though each strip is shared by every tile across.
func TestRemoteTilesFetchRunsOnce(t *testing.T) {
	dir := t.TempDir()
	const side = 2048
	data := cells(raster.Float32, 1, side, side, 6)
	cog := filepath.Join(dir, "cog.tif")
	if err := WriteCOGBuffer(data, raster.Float32, 1, side, side, raster.Georef{}, cog, COGOptions{Options: []string{"BLOCKSIZE=256"}}); err != nil {
		t.Fatal(err)
	}
	gtiff(t, filepath.Join(dir, "strips.tif"), raster.Float32, 1, side, side, data, "COMPRESS=DEFLATE", "BLOCKYSIZE=8")
	base := rangeServer(t, dir)
	if _, err := storage.ConfigureStorage(base, []string{"GDAL_DISABLE_READDIR_ON_OPEN=EMPTY_DIR"}, false); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		file        string
		maxRequests int64 // once the header is cached
	}{
		// +1: opening asks whether the server answers
		{"cog.tif", (side/512)*(side/512)*2 + 1}, // 512 x 512 tiles over 2 rows of 256 x 256 blocks
		{"strips.tif", 2*side*side*4/tiff.MaxRunBytes + 1},
	} {
		name := "/vsicurl/" + base + "/" + c.file
		ds, err := OpenDataset(name) // the header, cached from now on
		if err != nil {
			t.Fatal(err)
		}
		ds.Close()
		served(t, base)
		r, err := OpenTileReader(name, ReaderOptions{TileRows: 512, TileCols: 512})
		if err != nil {
			t.Fatal(err)
		}
		if r.ds.raw == nil {
			t.Fatalf("%s: not decoded directly", c.file)
		}
		eachTile(t, r, func(tile Tile, buf []byte) {
			if want := clampedRead(data, 4, 1, side, side, tile.Padded, nil); !bytes.Equal(buf[:len(want)], want) {
				t.Fatalf("%s: tile %v differs", c.file, tile.Window)
			}
		})
		r.Close()
		st, _ := os.Stat(filepath.Join(dir, c.file))
		n, b := served(t, base)
		fmt.Printf("%s: %d requests, %d bytes for the tiles (file %d bytes)\n", c.file, n, b, st.Size())
		if n > c.maxRequests {
			t.Errorf("%s: %d requests for the tiles, want at most %d", c.file, n, c.maxRequests)
		}
		if float64(b) > 1.1*float64(st.Size()) {
			t.Errorf("%s: %d bytes sent for a %d-byte file", c.file, b, st.Size())
		}
	}
}
