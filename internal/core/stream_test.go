package core

import (
	"bytes"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

func TestDatasetReadWindow(t *testing.T) {
	path := gtiff(t, tmpPath(t, "d.tif"), Int16, 3, 90, 110, cells(Int16, 3, 90, 110, 1), "TILED=YES", "BLOCKXSIZE=32", "BLOCKYSIZE=32")
	ds, err := OpenDataset(path)
	if err != nil {
		t.Fatal(err)
	}
	if i := ds.Info(); i.Rows != 90 || i.Cols != 110 || i.Bands != 3 || i.DType != Int16 || i.BlockRows != 32 {
		t.Fatalf("info %+v", i)
	}
	rng := rand.New(rand.NewSource(2))
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < 10; k++ {
				w := Window{int64(rng.Intn(80)), int64(rng.Intn(100)), 1 + int64(rng.Intn(10)), 1 + int64(rng.Intn(10))}
				for _, spec := range []ReadSpec{{}, {Bands: []int{3, 1}}, {Bands: []int{2}, DType: Float64}} {
					r, _ := spec.resolve(ds.Info())
					buf := make([]byte, r.BufferLen(w))
					if err := ds.ReadWindow(w, spec, buf); err != nil {
						t.Error(err)
						return
					}
					if !bytes.Equal(buf, gdalRead(t, path, w, r.Bands, r.DType)) {
						t.Errorf("window %v spec %+v differs from GDAL", w, spec)
					}
				}
			}
		}()
	}
	wg.Wait()
	buf := make([]byte, 2*10*10)
	for _, c := range []struct {
		w      Window
		spec   ReadSpec
		n      int
		status Status
	}{
		{Window{85, 0, 10, 10}, ReadSpec{Bands: []int{1}}, 200, StatusInvalidArgument},
		{Window{0, 0, 0, 10}, ReadSpec{Bands: []int{1}}, 200, StatusInvalidArgument},
		{Window{-1, 0, 10, 10}, ReadSpec{Bands: []int{1}}, 200, StatusInvalidArgument},
		{Window{0, 0, 10, 10}, ReadSpec{Bands: []int{4}}, 200, StatusInvalidArgument},
		{Window{0, 0, 10, 10}, ReadSpec{Bands: []int{1}}, 199, StatusInvalidArgument},
		{Window{0, 0, 10, 10}, ReadSpec{Bands: []int{1}, DType: Int64}, 800, StatusUnsupported},
		{Window{0, 0, 10, 10}, ReadSpec{Bands: []int{1}, DType: 42}, 200, StatusUnsupported},
	} {
		b := make([]byte, c.n)
		if err := ds.ReadWindow(c.w, c.spec, b); StatusOf(err) != c.status {
			t.Errorf("%v %+v: %v", c.w, c.spec, err)
		}
	}
	if err := ds.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ds.ReadWindow(Window{0, 0, 10, 10}, ReadSpec{Bands: []int{1}}, buf); StatusOf(err) != StatusInvalidArgument {
		t.Fatalf("read after close: %v", err)
	}
	if err := ds.Close(); StatusOf(err) != StatusInvalidArgument {
		t.Fatalf("double close: %v", err)
	}
	if _, err := OpenDataset(tmpPath(t, "missing.tif")); StatusOf(err) != StatusNotFound {
		t.Fatalf("missing: %v", err)
	}
}

// clampedRead is the reference for halos: indices clamped into the raster.
func clampedRead(full []byte, size, bands, rows, cols int, p Window, fill []byte) []byte {
	var out bytes.Buffer
	for b := 0; b < bands; b++ {
		for r := p.RowOff; r < p.RowOff+p.Rows; r++ {
			for c := p.ColOff; c < p.ColOff+p.Cols; c++ {
				if fill != nil && (r < 0 || c < 0 || r >= int64(rows) || c >= int64(cols)) {
					out.Write(fill)
					continue
				}
				y, x := min(max(r, 0), int64(rows-1)), min(max(c, 0), int64(cols-1))
				i := ((b*rows+int(y))*cols + int(x)) * size
				out.Write(full[i : i+size])
			}
		}
	}
	return out.Bytes()
}

func TestTileReader(t *testing.T) {
	const rows, cols = 157, 203
	for _, dtype := range []DType{Float32, UInt16} {
		for _, bands := range []int{1, 2} {
			data := cells(dtype, bands, rows, cols, 5)
			path := gtiff(t, tmpPath(t, "r.tif"), dtype, bands, rows, cols, data, "TILED=YES", "BLOCKXSIZE=64", "BLOCKYSIZE=64", "COMPRESS=DEFLATE", "PREDICTOR=2")
			for _, o := range []ReaderOptions{
				{TileRows: 64, TileCols: 64},
				{TileRows: 50, TileCols: 70, Overlap: 5, Workers: 1, Prefetch: 1},
				{TileRows: 40, TileCols: 203, Halo: 2, Workers: 4},
				{TileRows: 157, TileCols: 1, Halo: 1},
			} {
				r, err := OpenTileReader(path, o)
				if err != nil {
					t.Fatal(err)
				}
				tiling, _ := NewTiling(rows, cols, o.TileRows, o.TileCols, o.Overlap)
				buf := make([]byte, r.BufferLen())
				for i := uint64(0); ; i++ {
					tile, ok, err := r.Next(buf)
					if err != nil {
						t.Fatal(err)
					}
					if !ok {
						if i != tiling.Len() {
							t.Fatalf("%d tiles, want %d", i, tiling.Len())
						}
						break
					}
					if tile.Window != tiling.At(i) {
						t.Fatalf("tile %d: %v, want %v", i, tile.Window, tiling.At(i))
					}
					want := clampedRead(data, dtype.Size(), bands, rows, cols, tile.Padded, nil)
					if !bytes.Equal(buf[:len(want)], want) {
						t.Fatalf("%s x%d %+v: tile %v differs", dtype, bands, o, tile.Window)
					}
				}
				if err := r.Close(); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

func TestTileReaderEdgeNoDataAndErrors(t *testing.T) {
	data := cells(Float32, 1, 30, 40, 1)
	path := gtiff(t, tmpPath(t, "n.tif"), Float32, 1, 30, 40, data)
	if _, err := OpenTileReader(path, ReaderOptions{TileRows: 10, TileCols: 10, Halo: 1, Edge: EdgeNoData}); StatusOf(err) != StatusInvalidArgument {
		t.Fatalf("nodata edge without nodata: %v", err)
	}
	for _, o := range []ReaderOptions{{TileRows: 0, TileCols: 10}, {TileRows: 10, TileCols: 10, Halo: -1}, {TileRows: 10, TileCols: 10, Edge: 7},
		{TileRows: 10, TileCols: 10, Workers: -1}, {TileRows: 10, TileCols: 10, Spec: ReadSpec{Bands: []int{2}}}} {
		if _, err := OpenTileReader(path, o); StatusOf(err) != StatusInvalidArgument {
			t.Errorf("%+v: %v", o, err)
		}
	}
	ds, _ := OpenDataset(path)
	ds.Close()
	withNodata := tmpPath(t, "nd.tif")
	nd := -7.0
	if err := WriteCOGBuffer(data, Float32, 1, 30, 40, Georef{NoData: &nd}, withNodata, COGOptions{}); err != nil {
		t.Fatal(err)
	}
	r, err := OpenTileReader(withNodata, ReaderOptions{TileRows: 30, TileCols: 40, Halo: 2, Edge: EdgeNoData})
	if err != nil {
		t.Fatal(err)
	}
	small := make([]byte, 16)
	if _, _, err := r.Next(small); StatusOf(err) != StatusInvalidArgument {
		t.Fatalf("small buffer: %v", err)
	}
	buf := make([]byte, r.BufferLen())
	tile, ok, err := r.Next(buf) // the small buffer did not consume the tile
	if err != nil || !ok || tile.Window != (Window{0, 0, 30, 40}) {
		t.Fatalf("%v %v %v", tile, ok, err)
	}
	fill, _ := encodeValue(Float32, nd)
	if want := clampedRead(data, 4, 1, 30, 40, tile.Padded, fill); !bytes.Equal(buf[:len(want)], want) {
		t.Fatal("nodata halo differs")
	}
	r.Close()
	if _, _, err := r.Next(buf); StatusOf(err) != StatusInvalidArgument {
		t.Fatalf("next after close: %v", err)
	}
	if err := r.Close(); StatusOf(err) != StatusInvalidArgument {
		t.Fatalf("double close: %v", err)
	}
}

func TestTileReaderCloseMidStreamAndTruncation(t *testing.T) {
	before := runtime.NumGoroutine()
	data := cells(Float32, 1, 512, 512, 3)
	path := tmpPath(t, "t.tif")
	if err := WriteCOGBuffer(data, Float32, 1, 512, 512, Georef{}, path, COGOptions{Options: []string{"BLOCKSIZE=64"}}); err != nil {
		t.Fatal(err)
	}
	r, err := OpenTileReader(path, ReaderOptions{TileRows: 64, TileCols: 64, Prefetch: 2})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, r.BufferLen())
	r.Next(buf)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if runtime.NumGoroutine() > before {
		t.Fatalf("goroutines leaked: %d > %d", runtime.NumGoroutine(), before)
	}

	r, err = OpenTileReader(path, ReaderOptions{TileRows: 64, TileCols: 64, Prefetch: 1, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	st, _ := os.Stat(path)
	os.Truncate(path, st.Size()/3)
	if err := readToEnd(t, r); StatusOf(err) != StatusIO {
		t.Fatalf("truncated source: %v", err)
	}
}

// readToEnd takes every tile and returns the error that stopped it (nil at
// the end); it fails the test if that takes more than 30 s.
func readToEnd(t *testing.T, r *TileReader) error {
	t.Helper()
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
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("reading hangs")
		return nil
	}
}

// eachTile hands every tile of r to check, and fails the test on an error.
func eachTile(t *testing.T, r *TileReader, check func(Tile, []byte)) {
	t.Helper()
	buf := make([]byte, r.BufferLen())
	for {
		tile, ok, err := r.Next(buf)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return
		}
		check(tile, buf)
	}
}

func TestTileWriter(t *testing.T) {
	dir := t.TempDir()
	const rows, cols = 300, 250
	data := cells(Float32, 2, rows, cols, 9)
	gt := [6]float64{0, 1, 0, 0, 0, -1}
	nd := -1.0
	dst := filepath.Join(dir, "w.tif")
	w, err := CreateTileWriter(dst, WriterSpec{Rows: rows, Cols: cols, Bands: 2, DType: Float32, Georef: Georef{GeoTransform: &gt, CRS: "EPSG:3857", NoData: &nd}}, COGOptions{Compress: "zstd"})
	if err != nil {
		t.Fatal(err)
	}
	tiling, _ := NewTiling(rows, cols, 64, 64, 0)
	order := rand.New(rand.NewSource(4)).Perm(int(tiling.Len()))
	var wg sync.WaitGroup
	skipped := tiling.At(uint64(order[0]))
	for _, i := range order[1:] {
		wg.Add(1)
		go func(win Window) {
			defer wg.Done()
			buf := make([]byte, 0, 2*win.Rows*win.Cols*4)
			for b := 0; b < 2; b++ {
				for r := win.RowOff; r < win.RowOff+win.Rows; r++ {
					start := ((int64(b)*rows+r)*cols + win.ColOff) * 4
					buf = append(buf, data[start:start+win.Cols*4]...)
				}
			}
			if err := w.Write(win, buf); err != nil {
				t.Error(err)
			}
		}(tiling.At(uint64(i)))
	}
	wg.Wait()
	if err := w.Write(Window{290, 0, 20, 10}, make([]byte, 2*20*10*4)); StatusOf(err) != StatusInvalidArgument {
		t.Fatalf("outside: %v", err)
	}
	if err := w.Write(Window{0, 0, 2, 2}, make([]byte, 3)); StatusOf(err) != StatusInvalidArgument {
		t.Fatalf("wrong length: %v", err)
	}
	if err := w.Close(nil); err != nil {
		t.Fatal(err)
	}
	validateCOG(t, dst)
	got := gdalRead(t, dst, Window{0, 0, rows, cols}, []int{1, 2}, Float32)
	fill, _ := encodeValue(Float32, nd)
	for b := 0; b < 2; b++ {
		for r := int64(0); r < rows; r++ {
			for c := int64(0); c < cols; c++ {
				i := ((int64(b)*rows+r)*cols + c) * 4
				want := data[i : i+4]
				if r >= skipped.RowOff && r < skipped.RowOff+skipped.Rows && c >= skipped.ColOff && c < skipped.ColOff+skipped.Cols {
					want = fill
				}
				if !bytes.Equal(got[i:i+4], want) {
					t.Fatalf("cell (%d, %d, %d) differs", b, r, c)
				}
			}
		}
	}
	if err := w.Close(nil); StatusOf(err) != StatusInvalidArgument {
		t.Fatalf("double close: %v", err)
	}
	if err := w.Write(Window{0, 0, 1, 1}, make([]byte, 8)); StatusOf(err) != StatusInvalidArgument {
		t.Fatalf("write after close: %v", err)
	}
	if names := listDir(t, dir); len(names) != 1 {
		t.Fatalf("left behind: %v", names)
	}
}

func TestTileWriterAbortAndCancel(t *testing.T) {
	dir := t.TempDir()
	for _, finish := range []func(*TileWriter) error{
		func(w *TileWriter) error { return w.Abort() },
		func(w *TileWriter) error { return w.Close(func(float64, string) bool { return false }) },
	} {
		w, err := CreateTileWriter(filepath.Join(dir, "a.tif"), WriterSpec{Rows: 600, Cols: 600, Bands: 1, DType: Int16}, COGOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Write(Window{0, 0, 10, 10}, make([]byte, 200)); err != nil {
			t.Fatal(err)
		}
		finish(w)
		if names := listDir(t, dir); len(names) != 0 {
			t.Fatalf("left behind: %v", names)
		}
		if err := w.Abort(); StatusOf(err) != StatusInvalidArgument {
			t.Fatalf("abort after finish: %v", err)
		}
	}
	for _, spec := range []WriterSpec{{Rows: 0, Cols: 1, Bands: 1, DType: Byte}, {Rows: 1, Cols: 1, Bands: 1, DType: Int64}, {Rows: 1, Cols: 1, Bands: 1, DType: 99}} {
		if _, err := CreateTileWriter(filepath.Join(dir, "b.tif"), spec, COGOptions{}); err == nil {
			t.Errorf("%+v accepted", spec)
		}
	}
	if _, err := CreateTileWriter(filepath.Join(dir, "nodir", "b.tif"), WriterSpec{Rows: 1, Cols: 1, Bands: 1, DType: Byte}, COGOptions{}); StatusOf(err) != StatusNotFound {
		t.Fatalf("missing dir: %v", err)
	}
}

func TestPadding(t *testing.T) {
	rng := rand.New(rand.NewSource(8))
	for k := 0; k < 200; k++ {
		size := []int{1, 2, 4, 8}[rng.Intn(4)]
		dtype := map[int]DType{1: Byte, 2: Int16, 4: Float32, 8: Float64}[size]
		bands, rows, cols := 1+rng.Intn(2), 1+rng.Intn(9), 1+rng.Intn(9)
		data := cells(dtype, bands, rows, cols, int64(k))
		halo := int64(rng.Intn(4))
		r0, c0 := int64(rng.Intn(rows)), int64(rng.Intn(cols))
		inner := Window{r0, c0, 1 + int64(rng.Intn(rows-int(r0))), 1 + int64(rng.Intn(cols-int(c0)))}
		outer := Window{inner.RowOff - halo, inner.ColOff - halo, inner.Rows + 2*halo, inner.Cols + 2*halo}
		clip := Window{max(outer.RowOff, 0), max(outer.ColOff, 0), 0, 0}
		clip.Rows = min(outer.RowOff+outer.Rows, int64(rows)) - clip.RowOff
		clip.Cols = min(outer.ColOff+outer.Cols, int64(cols)) - clip.ColOff
		in := clampedRead(data, size, bands, rows, cols, clip, nil)
		p := padding{size: size, bands: bands, outer: outer, inner: clip}
		out := make([]byte, int64(bands)*outer.Rows*outer.Cols*int64(size))
		p.replicate(out, in)
		if want := clampedRead(data, size, bands, rows, cols, outer, nil); !bytes.Equal(out, want) {
			t.Fatalf("replicate %d: outer %v inner %v", k, outer, clip)
		}
		fill, _ := encodeValue(dtype, 3)
		if err := p.fillConstant(out, in, dtype, 3); err != nil {
			t.Fatal(err)
		}
		if want := clampedRead(data, size, bands, rows, cols, outer, fill); !bytes.Equal(out, want) {
			t.Fatalf("fill %d: outer %v inner %v", k, outer, clip)
		}
	}
}
