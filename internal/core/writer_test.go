package core

import (
	"bytes"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cloudio-dem/cloudio/internal/raster"
	"github.com/cloudio-dem/cloudio/internal/raster/rastertest"
	"github.com/cloudio-dem/cloudio/internal/storage"
)

// writeTiles writes the windows of a tiling of data (band-sequential, the
// whole raster) from several goroutines in random order, skipping the
// windows skip says.
func writeTiles(t *testing.T, w *TileWriter, data []byte, dtype raster.DType, bands, rows, cols int, tiling *raster.Tiling, seed int64, skip func(raster.Window) bool) {
	t.Helper()
	order := rand.New(rand.NewSource(seed)).Perm(int(tiling.Len()))
	jobs := make(chan raster.Window)
	var wg sync.WaitGroup
	errs := make(chan error, len(order))
	for g := 0; g < 6; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for win := range jobs {
				if err := w.Write(win, subWindow(data, dtype.Size(), rows, cols, win, seq(bands))); err != nil {
					errs <- fmt.Errorf("window %v: %w", win, err)
				}
			}
		}()
	}
	for _, i := range order {
		if win := tiling.At(uint64(i)); skip == nil || !skip(win) {
			jobs <- win
		}
	}
	close(jobs)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestTileWriterRoundTrip(t *testing.T) {
	gt := [6]float64{600000, 25, 0, 5000000, 0, -25}
	for _, c := range []struct {
		dtype             raster.DType
		bands, rows, cols int
		tile              int64
		compress          string
		nodata            *float64
		crs               string
	}{
		{raster.Float32, 2, 300, 250, 64, "zstd", ptr(-1), "EPSG:3857"},
		{raster.Int16, 1, 700, 650, 100, "", ptr(-32768), "EPSG:32633"}, // larger than one block: overviews
		{raster.Byte, 3, 130, 170, 40, "lzw", nil, ""},
		{raster.UInt16, 1, 90, 80, 33, "deflate", ptr(0), "EPSG:4326"},
		{raster.Float64, 1, 120, 110, 50, "lerc", ptr(math.NaN()), "EPSG:3035"},
		{raster.Int32, 2, 64, 64, 64, "none", nil, "EPSG:4326"},
	} {
		for _, stream := range []string{"NO", "YES"} {
			t.Run(fmt.Sprintf("%s_x%d_%dx%d_stream_%s", c.dtype, c.bands, c.rows, c.cols, stream), func(t *testing.T) {
				dir := t.TempDir()
				data := cells(c.dtype, c.bands, c.rows, c.cols, int64(c.rows))
				dst := filepath.Join(dir, "w.tif")
				w, err := CreateTileWriter(dst, WriterSpec{Rows: int64(c.rows), Cols: int64(c.cols), Bands: int64(c.bands), DType: c.dtype,
					Georef: raster.Georef{GeoTransform: &gt, CRS: c.crs, NoData: noData(c.nodata)}}, COGOptions{Compress: c.compress, Options: []string{"STREAM=" + stream}})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := os.Stat(dst); err == nil {
					t.Fatal("the destination exists before Close")
				}
				tiling, _ := raster.NewTiling(int64(c.rows), int64(c.cols), c.tile, c.tile, 0)
				writeTiles(t, w, data, c.dtype, c.bands, c.rows, c.cols, tiling, 1, nil)
				if _, err := os.Stat(dst); err == nil {
					t.Fatal("the destination exists before Close")
				}
				var progress progressLog
				if err := w.Close(progress.fn); err != nil {
					t.Fatal(err)
				}
				progress.check(t)
				checkCOG(t, dst, data, c.dtype, c.bands, c.rows, c.cols, &gt, c.crs, c.nodata)
				wantDir(t, dir, "w.tif")
			})
		}
	}
}

// Cells never written read as nodata when the writer has one, else 0:
// whole blocks never touched, and the rest of blocks partly written.
func TestTileWriterUnwrittenCells(t *testing.T) {
	const rows, cols = 1100, 600 // staging blocks are 512 x 512
	for _, c := range []struct {
		dtype  raster.DType
		nodata *float64
	}{{raster.Float32, ptr(-9999)}, {raster.Float32, ptr(math.NaN())}, {raster.Int16, ptr(-5)}, {raster.UInt16, nil}, {raster.Float64, nil}} {
		t.Run(fmt.Sprintf("%s_%v", c.dtype, c.nodata != nil), func(t *testing.T) {
			dir := t.TempDir()
			data := cells(c.dtype, 1, rows, cols, 3)
			dst := filepath.Join(dir, "u.tif")
			w, err := CreateTileWriter(dst, WriterSpec{Rows: rows, Cols: cols, Bands: 1, DType: c.dtype, Georef: raster.Georef{NoData: noData(c.nodata)}}, COGOptions{})
			if err != nil {
				t.Fatal(err)
			}
			tiling, _ := raster.NewTiling(rows, cols, 100, 100, 0)
			holes := []raster.Window{tiling.At(7), {RowOff: 0, ColOff: 500, Rows: 100, Cols: 100}}
			skip := func(win raster.Window) bool {
				return win.RowOff >= 600 || win == holes[0] || win == holes[1] // rows 600.. never written: whole blocks stay empty
			}
			writeTiles(t, w, data, c.dtype, 1, rows, cols, tiling, 2, skip)
			if err := w.Close(nil); err != nil {
				t.Fatal(err)
			}
			validateCOG(t, dst)
			got, _, _, _, _ := gdalReadAll(t, dst)
			fill := rastertest.EncodeRef(c.dtype, 0)
			if c.nodata != nil {
				fill = rastertest.EncodeRef(c.dtype, *c.nodata)
			}
			size := int64(c.dtype.Size())
			for r := int64(0); r < rows; r++ {
				for col := int64(0); col < cols; col++ {
					i := (r*cols + col) * size
					want := data[i : i+size]
					if r >= 600 || holes[0].Contains(r, col) || holes[1].Contains(r, col) {
						want = fill
					}
					if !bytes.Equal(got[i:i+size], want) {
						t.Fatalf("cell (%d, %d) = %v, want %v", r, col, got[i:i+size], want)
					}
				}
			}
		})
	}
}

// Windows may overlap; the last write wins, and a window may be any
// rectangle, a single cell included.
func TestTileWriterOverlappingWrites(t *testing.T) {
	dir := t.TempDir()
	dst := filepath.Join(dir, "o.tif")
	const rows, cols = 40, 50
	w, err := CreateTileWriter(dst, WriterSpec{Rows: rows, Cols: cols, Bands: 2, DType: raster.Int32}, COGOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 2*rows*cols*4)
	put := func(win raster.Window, v int32) {
		buf := make([]byte, 0, 2*win.Rows*win.Cols*4)
		for b := 0; b < 2; b++ {
			for r := win.RowOff; r < win.RowOff+win.Rows; r++ {
				for c := win.ColOff; c < win.ColOff+win.Cols; c++ {
					cell := rastertest.EncodeRef(raster.Int32, float64(v+int32(b)*1000))
					buf = append(buf, cell...)
					copy(want[((int64(b)*rows+r)*cols+c)*4:], cell)
				}
			}
		}
		if err := w.Write(win, buf); err != nil {
			t.Fatal(err)
		}
	}
	put(raster.Window{RowOff: 0, ColOff: 0, Rows: rows, Cols: cols}, 1)
	put(raster.Window{RowOff: 10, ColOff: 10, Rows: 20, Cols: 20}, 2)
	put(raster.Window{RowOff: 15, ColOff: 5, Rows: 10, Cols: 40}, 3)
	put(raster.Window{RowOff: 39, ColOff: 49, Rows: 1, Cols: 1}, 4)
	put(raster.Window{RowOff: 0, ColOff: 0, Rows: 1, Cols: cols}, 5)
	if err := w.Close(nil); err != nil {
		t.Fatal(err)
	}
	checkCOG(t, dst, want, raster.Int32, 2, rows, cols, nil, "", nil)
}

func TestTileWriterWriteErrors(t *testing.T) {
	dir := t.TempDir()
	dst := filepath.Join(dir, "e.tif")
	w, err := CreateTileWriter(dst, WriterSpec{Rows: 30, Cols: 20, Bands: 2, DType: raster.Float32}, COGOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const big = int64(math.MaxInt64)
	for _, c := range []struct {
		name string
		win  raster.Window
		n    int
	}{
		{"past the bottom", raster.Window{RowOff: 25, ColOff: 0, Rows: 10, Cols: 10}, 2 * 10 * 10 * 4},
		{"past the right", raster.Window{RowOff: 0, ColOff: 15, Rows: 10, Cols: 10}, 2 * 10 * 10 * 4},
		{"negative offset", raster.Window{RowOff: -1, ColOff: 0, Rows: 2, Cols: 2}, 32},
		{"zero rows", raster.Window{RowOff: 0, ColOff: 0, Rows: 0, Cols: 2}, 0},
		{"negative size", raster.Window{RowOff: 5, ColOff: 5, Rows: -1, Cols: 2}, 16},
		{"huge offset", raster.Window{RowOff: big, ColOff: big, Rows: 1, Cols: 1}, 8},
		{"huge size", raster.Window{RowOff: 0, ColOff: 0, Rows: big, Cols: big}, 8},
		{"wrong length, short", raster.Window{RowOff: 0, ColOff: 0, Rows: 2, Cols: 2}, 31},
		{"wrong length, long", raster.Window{RowOff: 0, ColOff: 0, Rows: 2, Cols: 2}, 33},
		{"one band's worth", raster.Window{RowOff: 0, ColOff: 0, Rows: 2, Cols: 2}, 16},
		{"empty", raster.Window{RowOff: 0, ColOff: 0, Rows: 2, Cols: 2}, 0},
	} {
		err, panicked := rastertest.Catch(func() error { return w.Write(c.win, make([]byte, c.n)) })
		if panicked != nil {
			t.Errorf("%s: panic %v", c.name, panicked)
			continue
		}
		wantStatus(t, err, raster.StatusInvalidArgument, c.name)
	}
	// a bad write does not spoil the writer
	data := cells(raster.Float32, 2, 30, 20, 1)
	if err := w.Write(raster.Window{RowOff: 0, ColOff: 0, Rows: 30, Cols: 20}, data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(nil); err != nil {
		t.Fatal(err)
	}
	checkCOG(t, dst, data, raster.Float32, 2, 30, 20, nil, "", nil)
	wantStatus(t, w.Write(raster.Window{RowOff: 0, ColOff: 0, Rows: 1, Cols: 1}, make([]byte, 8)), raster.StatusInvalidArgument, "write after close")
	wantStatus(t, w.Close(nil), raster.StatusInvalidArgument, "double close")
	wantStatus(t, w.Abort(), raster.StatusInvalidArgument, "abort after close")
	checkCOG(t, dst, data, raster.Float32, 2, 30, 20, nil, "", nil) // untouched by the calls after Close
	wantDir(t, dir, "e.tif")
}

// Abort, cancellation and a panicking callback leave nothing at the
// destination, no staging files, and an existing destination untouched.
func TestTileWriterAbortCancel(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "existing.tif")
	if err := WriteCOGBuffer(cells(raster.Byte, 1, 8, 8, 1), raster.Byte, 1, 8, 8, raster.Georef{}, existing, COGOptions{}); err != nil {
		t.Fatal(err)
	}
	existingBytes := readFile(t, existing)
	spec := WriterSpec{Rows: 1200, Cols: 1000, Bands: 1, DType: raster.Int16}
	finishes := []struct {
		name   string
		finish func(*TileWriter) error
		status raster.Status
	}{
		{"abort", func(w *TileWriter) error { return w.Abort() }, raster.StatusOK},
		{"cancel at once", func(w *TileWriter) error { p, _ := cancelAt(0); return w.Close(p) }, raster.StatusCancelled},
		{"cancel midway", func(w *TileWriter) error { p, _ := cancelAt(0.5); return w.Close(p) }, raster.StatusCancelled},
		{"cancel at the end", func(w *TileWriter) error { p, _ := cancelAt(1); return w.Close(p) }, raster.StatusCancelled},
		{"panicking callback", func(w *TileWriter) error {
			return w.Close(func(f float64, _ string) bool {
				if f > 0.3 {
					panic("callback bug")
				}
				return true
			})
		}, raster.StatusInternal},
	}
	for _, f := range finishes {
		for _, dst := range []string{filepath.Join(dir, "new.tif"), existing} {
			w, err := CreateTileWriter(dst, spec, COGOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(listDir(t, dir)) < 2 {
				t.Fatalf("%s: no staging file while writing: %v", f.name, listDir(t, dir))
			}
			tiling, _ := raster.NewTiling(spec.Rows, spec.Cols, 300, 300, 0)
			writeTiles(t, w, cells(raster.Int16, 1, 1200, 1000, 1), raster.Int16, 1, 1200, 1000, tiling, 3, nil)
			wantStatus(t, f.finish(w), f.status, f.name)
			wantDir(t, dir, "existing.tif")
			if !bytes.Equal(readFile(t, existing), existingBytes) {
				t.Fatalf("%s changed the existing destination", f.name)
			}
			wantStatus(t, w.Abort(), raster.StatusInvalidArgument, f.name+", then abort")
			wantStatus(t, w.Close(nil), raster.StatusInvalidArgument, f.name+", then close")
			wantStatus(t, w.Write(raster.Window{RowOff: 0, ColOff: 0, Rows: 1, Cols: 1}, make([]byte, 2)), raster.StatusInvalidArgument, f.name+", then write")
			wantDir(t, dir, "existing.tif")
		}
	}
	// an aborted writer that never wrote anything
	w, err := CreateTileWriter(filepath.Join(dir, "none.tif"), spec, COGOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	wantDir(t, dir, "existing.tif")
}

// A disk that fills up while tiles are written or while the COG is built
// fails the writer with an IO error and leaves nothing behind. Run in a
// child: the file size limit is per process.
func TestTileWriterDiskFull(t *testing.T) {
	out, ok := isolated(t, "disk-full", func() error {
		dir, err := os.MkdirTemp("", "cloudio-full-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		const rows, cols = 1500, 1300
		data := cells(raster.Float32, 1, rows, cols, 2)
		tiling, _ := raster.NewTiling(rows, cols, 256, 256, 0)
		for _, limit := range []uint64{32 << 10, 1 << 20, 4 << 20} {
			if err := setFileSizeLimit(limit); err != nil {
				return err
			}
			dst := filepath.Join(dir, "w.tif")
			w, err := CreateTileWriter(dst, WriterSpec{Rows: rows, Cols: cols, Bands: 1, DType: raster.Float32}, COGOptions{})
			if err != nil {
				return err
			}
			var writeErr error
			for i := uint64(0); i < tiling.Len() && writeErr == nil; i++ {
				win := tiling.At(i)
				writeErr = w.Write(win, subWindow(data, 4, rows, cols, win, []int{1}))
			}
			if writeErr != nil && raster.StatusOf(writeErr) != raster.StatusIO {
				return fmt.Errorf("limit %d: write: %v", limit, writeErr)
			}
			closeErr := w.Close(nil)
			if raster.StatusOf(closeErr) != raster.StatusIO {
				return fmt.Errorf("limit %d: write %v, close %v; want an IO error", limit, writeErr, closeErr)
			}
			if names := listDir(t, dir); len(names) != 0 {
				return fmt.Errorf("limit %d: left behind %v", limit, names)
			}
			if err := w.Abort(); raster.StatusOf(err) != raster.StatusInvalidArgument {
				return fmt.Errorf("abort after a failed close: %v", err)
			}
		}
		return nil
	})
	if !ok {
		t.Fatal(firstLines(out, 20))
	}
}

// A writer to a GDAL virtual path stages in the temporary directory and
// leaves nothing there.
func TestTileWriterVSIMem(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	data := cells(raster.Float32, 1, 64, 48, 1)
	for _, abort := range []bool{false, true} {
		dst := fmt.Sprintf("/vsimem/cloudio-writer-test/%v.tif", abort)
		w, err := CreateTileWriter(dst, WriterSpec{Rows: 64, Cols: 48, Bands: 1, DType: raster.Float32}, COGOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Write(raster.Window{RowOff: 0, ColOff: 0, Rows: 64, Cols: 48}, data); err != nil {
			t.Fatal(err)
		}
		if abort {
			err = w.Abort()
		} else {
			err = w.Close(nil)
		}
		if err != nil {
			t.Fatal(err)
		}
		wantDir(t, tmp)
		names, _ := storage.List("/vsimem/cloudio-writer-test")
		if want := "false.tif"; strings.Join(names, ",") != want {
			t.Fatalf("/vsimem/ holds %v, want %s", names, want)
		}
	}
	got, _, _, _, _ := gdalReadAll(t, "/vsimem/cloudio-writer-test/false.tif")
	storage.Unlink("/vsimem/cloudio-writer-test/false.tif")
	if !bytes.Equal(got, data) {
		t.Fatal("/vsimem/ pixels differ")
	}
}

func TestCreateTileWriterErrors(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "sub")
	os.Mkdir(sub, 0o755)
	ok := WriterSpec{Rows: 10, Cols: 10, Bands: 1, DType: raster.Byte}
	with := func(f func(*WriterSpec)) WriterSpec { s := ok; f(&s); return s }
	for _, c := range []struct {
		name   string
		dst    string
		spec   WriterSpec
		o      COGOptions
		status raster.Status
	}{
		{"zero rows", "a.tif", with(func(s *WriterSpec) { s.Rows = 0 }), COGOptions{}, raster.StatusInvalidArgument},
		{"negative cols", "a.tif", with(func(s *WriterSpec) { s.Cols = -1 }), COGOptions{}, raster.StatusInvalidArgument},
		{"zero bands", "a.tif", with(func(s *WriterSpec) { s.Bands = 0 }), COGOptions{}, raster.StatusInvalidArgument},
		{"too many bands", "a.tif", with(func(s *WriterSpec) { s.Bands = 65536 }), COGOptions{}, raster.StatusInvalidArgument},
		{"rows above 2^31", "a.tif", with(func(s *WriterSpec) { s.Rows = raster.MaxRasterSide + 1 }), COGOptions{}, raster.StatusInvalidArgument},
		{"unknown dtype", "a.tif", with(func(s *WriterSpec) { s.DType = 99 }), COGOptions{}, raster.StatusInvalidArgument},
		{"dtype 0", "a.tif", with(func(s *WriterSpec) { s.DType = 0 }), COGOptions{}, raster.StatusInvalidArgument},
		{"Int64", "a.tif", with(func(s *WriterSpec) { s.DType = raster.Int64 }), COGOptions{}, raster.StatusUnsupported},
		{"UInt64", "a.tif", with(func(s *WriterSpec) { s.DType = raster.UInt64 }), COGOptions{}, raster.StatusUnsupported},
		{"bad CRS", "a.tif", with(func(s *WriterSpec) { s.Georef.CRS = "EPSG:nope" }), COGOptions{}, raster.StatusInvalidArgument},
		{"unknown compress", "a.tif", ok, COGOptions{Compress: "brotli"}, raster.StatusInvalidArgument},
		{"unsuitable compress", "a.tif", with(func(s *WriterSpec) { s.DType = raster.Float32 }), COGOptions{Compress: "jpeg"}, raster.StatusInvalidArgument},
		{"bad option", "a.tif", ok, COGOptions{Options: []string{"BLOCKSIZE=big"}}, raster.StatusInvalidArgument},
		{"unknown option", "a.tif", ok, COGOptions{Options: []string{"TILED=YES"}}, raster.StatusInvalidArgument},
		{"missing directory", filepath.Join("nodir", "a.tif"), ok, COGOptions{}, raster.StatusNotFound},
		{"destination is a directory", "sub", ok, COGOptions{}, raster.StatusInvalidArgument},
		{"empty destination", "", ok, COGOptions{}, raster.StatusInvalidArgument},
		{"destination not UTF-8", "\xff.tif", ok, COGOptions{}, raster.StatusInvalidArgument},
		{"HTTP destination", "https://example.com/a.tif", ok, COGOptions{}, raster.StatusInvalidArgument},
	} {
		dst := c.dst
		if dst != "" && !strings.Contains(dst, "://") {
			dst = filepath.Join(dir, dst)
		}
		w, err := CreateTileWriter(dst, c.spec, c.o)
		if w != nil {
			w.Abort()
			t.Errorf("%s: accepted", c.name)
		}
		wantStatus(t, err, c.status, c.name)
		wantDir(t, dir, "sub")
	}
}

// Writers of several rasters at once, each from several goroutines.
func TestTileWritersConcurrently(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			dtype := []raster.DType{raster.Float32, raster.Int16, raster.Byte, raster.Float64}[i]
			data := cells(dtype, 1, 150, 140, int64(i))
			w, err := CreateTileWriter(filepath.Join(dir, fmt.Sprintf("%d.tif", i)), WriterSpec{Rows: 150, Cols: 140, Bands: 1, DType: dtype}, COGOptions{})
			if err != nil {
				errs[i] = err
				return
			}
			tiling, _ := raster.NewTiling(150, 140, 32, 32, 0)
			var inner sync.WaitGroup
			for g := 0; g < 3; g++ {
				inner.Add(1)
				go func(g int) {
					defer inner.Done()
					for k := uint64(g); k < tiling.Len(); k += 3 {
						win := tiling.At(k)
						if err := w.Write(win, subWindow(data, dtype.Size(), 150, 140, win, []int{1})); err != nil {
							errs[i] = err
						}
					}
				}(g)
			}
			inner.Wait()
			if err := w.Close(nil); err != nil && errs[i] == nil {
				errs[i] = err
			}
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", i, err)
		}
		dtype := []raster.DType{raster.Float32, raster.Int16, raster.Byte, raster.Float64}[i]
		checkCOG(t, filepath.Join(dir, fmt.Sprintf("%d.tif", i)), cells(dtype, 1, 150, 140, int64(i)), dtype, 1, 150, 140, nil, "", nil)
	}
	wantDir(t, dir, "0.tif", "1.tif", "2.tif", "3.tif")
}
