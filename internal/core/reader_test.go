package core

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudio-dem/cloudio/internal/raster"
	"github.com/cloudio-dem/cloudio/internal/raster/rastertest"
)

// clampedRead is numpy's edge padding (np.pad mode="edge") of a full
// band-sequential raster, or constant padding when fill is given: the
// cells of window p, whose offsets may be negative and whose far edges may
// lie outside.
func clampedRead(full []byte, size, bands, rows, cols int, p raster.Window, fill []byte) []byte {
	var out bytes.Buffer
	for b := 0; b < bands; b++ {
		for r := p.RowOff; r < p.RowOff+p.Rows; r++ {
			for c := p.ColOff; c < p.ColOff+p.Cols; c++ {
				if fill != nil && (r < 0 || c < 0 || r >= int64(rows) || c >= int64(cols)) {
					out.Write(fill)
					continue
				}
				y, x := min(max(r, 0), int64(rows-1)), min(max(c, 0), int64(cols-1))
				i := ((int64(b)*int64(rows)+y)*int64(cols) + x) * int64(size)
				out.Write(full[i : i+int64(size)])
			}
		}
	}
	return out.Bytes()
}

const sentinel = 0xC3

// drain reads every tile of r, checking each against want(tile) and that
// Next writes nothing past the tile's size.
func drain(t *testing.T, r *TileReader, tiling *raster.Tiling, halo int64, want func(Tile) []byte) {
	t.Helper()
	buf := make([]byte, r.BufferLen()+16)
	for i := uint64(0); ; i++ {
		for k := range buf {
			buf[k] = sentinel
		}
		tile, ok, err := r.Next(buf)
		if err != nil {
			t.Fatalf("tile %d: %v", i, err)
		}
		if !ok {
			if i != tiling.Len() || r.Len() != tiling.Len() {
				t.Fatalf("%d tiles (Len %d), want %d", i, r.Len(), tiling.Len())
			}
			break
		}
		if i >= tiling.Len() {
			t.Fatalf("more tiles than the tiling has")
		}
		w := tiling.At(i)
		if tile.Window != w {
			t.Fatalf("tile %d: %v, want %v", i, tile.Window, w)
		}
		if p := (raster.Window{RowOff: w.RowOff - halo, ColOff: w.ColOff - halo, Rows: w.Rows + 2*halo, Cols: w.Cols + 2*halo}); tile.Padded != p {
			t.Fatalf("tile %d: padded %v, want %v", i, tile.Padded, p)
		}
		exp := want(tile)
		if int64(len(exp)) > r.BufferLen() {
			t.Fatalf("tile %d needs %d bytes, BufferLen says %d", i, len(exp), r.BufferLen())
		}
		if !bytes.Equal(buf[:len(exp)], exp) {
			t.Fatalf("tile %d %v: data differs", i, tile.Window)
		}
		for k := len(exp); k < len(buf); k++ {
			if buf[k] != sentinel {
				t.Fatalf("tile %d: Next wrote past the tile's %d bytes (at %d)", i, len(exp), k)
			}
		}
	}
	// the end stays the end
	for k := 0; k < 2; k++ {
		if tile, ok, err := r.Next(buf); ok || err != nil || tile != (Tile{}) {
			t.Fatalf("after the end: %v %v %v", tile, ok, err)
		}
	}
}

func TestTileReaderWindowsAndData(t *testing.T) {
	dir := t.TempDir()
	type fixture struct {
		path              string
		dtype             raster.DType
		bands, rows, cols int
	}
	fixtures := []fixture{
		{gtiff(t, filepath.Join(dir, "a.tif"), raster.Float32, 2, 157, 203, cells(raster.Float32, 2, 157, 203, 5), "TILED=YES", "BLOCKXSIZE=64", "BLOCKYSIZE=64", "COMPRESS=DEFLATE", "PREDICTOR=3"), raster.Float32, 2, 157, 203},
		{gtiff(t, filepath.Join(dir, "b.tif"), raster.UInt16, 3, 128, 192, cells(raster.UInt16, 3, 128, 192, 6), "TILED=YES", "BLOCKXSIZE=32", "BLOCKYSIZE=32", "COMPRESS=LZW"), raster.UInt16, 3, 128, 192},
		{gtiff(t, filepath.Join(dir, "c.tif"), raster.Byte, 1, 70, 45, cells(raster.Byte, 1, 70, 45, 7), "BLOCKYSIZE=3"), raster.Byte, 1, 70, 45},
	}
	for _, f := range fixtures {
		ds, err := OpenDataset(f.path)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range []ReaderOptions{
			{TileRows: 64, TileCols: 64},
			{TileRows: 32, TileCols: 48, Workers: 1, Prefetch: 1},
			{TileRows: 50, TileCols: 70, Overlap: 5, Workers: 4},
			{TileRows: 40, TileCols: 203, Overlap: 39, Workers: 2, Prefetch: 3},
			{TileRows: 1000, TileCols: 1000},
			{TileRows: 7, TileCols: 300, Workers: 4, Prefetch: 1},
			{TileRows: 64, TileCols: 32, Spec: raster.ReadSpec{Bands: []int{f.bands}}},
			{TileRows: 33, TileCols: 31, Spec: raster.ReadSpec{Bands: []int{f.bands, 1}}, Workers: 3},
			{TileRows: 64, TileCols: 64, Spec: raster.ReadSpec{DType: raster.Float64}},
			{TileRows: 20, TileCols: 25, Overlap: 3, Spec: raster.ReadSpec{DType: raster.Int16, Bands: []int{1}}, Workers: 1, Prefetch: 1},
		} {
			t.Run(fmt.Sprintf("%s/%+v", filepath.Base(f.path), o), func(t *testing.T) {
				r, err := OpenTileReader(f.path, o)
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				if !reflect.DeepEqual(r.Info(), ds.Info()) {
					t.Fatalf("info %+v, want %+v", r.Info(), ds.Info())
				}
				tiling, _ := raster.NewTiling(int64(f.rows), int64(f.cols), o.TileRows, o.TileCols, o.Overlap)
				spec, _ := o.Spec.Resolve(ds.Info())
				drain(t, r, tiling, 0, func(tile Tile) []byte { // GDAL's own reads are the reference
					return gdalRead(t, f.path, tile.Window, spec.Bands, spec.DType)
				})
				if err := r.Close(); err != nil {
					t.Fatal(err)
				}
			})
		}
		ds.Close()
	}
}

func TestTileReaderHaloReplicate(t *testing.T) {
	dir := t.TempDir()
	const rows, cols = 61, 53
	for _, f := range []struct {
		name    string
		dtype   raster.DType
		bands   int
		options []string
	}{
		{"direct", raster.Float32, 2, []string{"TILED=YES", "BLOCKXSIZE=16", "BLOCKYSIZE=16", "COMPRESS=ZSTD"}},
		{"gdal", raster.Int16, 3, []string{"COMPRESS=LZW"}},
	} {
		path := gtiff(t, filepath.Join(dir, f.name+".tif"), f.dtype, f.bands, rows, cols, cells(f.dtype, f.bands, rows, cols, 1), f.options...)
		for _, o := range []ReaderOptions{
			{TileRows: 20, TileCols: 20, Halo: 1},
			{TileRows: 16, TileCols: 25, Halo: 3, Overlap: 2, Workers: 1, Prefetch: 1},
			{TileRows: 61, TileCols: 53, Halo: 2},
			{TileRows: 10, TileCols: 60, Halo: 70, Workers: 2}, // halo wider than the raster
			{TileRows: 1, TileCols: 1, Halo: 1, Spec: raster.ReadSpec{Bands: []int{1}}},
			{TileRows: 30, TileCols: 17, Halo: 4, Spec: raster.ReadSpec{Bands: []int{f.bands, 1}, DType: raster.Float64}},
		} {
			if o.TileRows == 1 && f.name == "gdal" {
				continue // 3233 tiles once is enough
			}
			t.Run(fmt.Sprintf("%s/%+v", f.name, o), func(t *testing.T) {
				spec, _ := o.Spec.Resolve(raster.Info{Bands: int64(f.bands), DType: f.dtype})
				full := gdalRead(t, path, raster.Window{RowOff: 0, ColOff: 0, Rows: rows, Cols: cols}, spec.Bands, spec.DType)
				r, err := OpenTileReader(path, o)
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				tiling, _ := raster.NewTiling(rows, cols, o.TileRows, o.TileCols, o.Overlap)
				drain(t, r, tiling, o.Halo, func(tile Tile) []byte {
					return clampedRead(full, spec.DType.Size(), len(spec.Bands), rows, cols, tile.Padded, nil)
				})
			})
		}
	}
}

func TestTileReaderHaloNoData(t *testing.T) {
	dir := t.TempDir()
	const rows, cols = 45, 38
	for _, c := range []struct {
		dtype  raster.DType
		nodata float64
	}{{raster.Float32, -9999}, {raster.Float32, math.NaN()}, {raster.Int16, -32768}, {raster.Byte, 255}, {raster.Float64, -1e300}, {raster.UInt16, 0}} {
		data := cells(c.dtype, 2, rows, cols, 2)
		setCell(data, c.dtype, rows, cols, 0, 0, 0, c.nodata)
		nd := c.nodata
		path := filepath.Join(dir, fmt.Sprintf("%s.tif", c.dtype))
		if err := WriteCOGBuffer(data, c.dtype, 2, rows, cols, raster.Georef{NoData: noData(&nd)}, path, COGOptions{}); err != nil {
			t.Fatal(err)
		}
		fill := rastertest.EncodeRef(c.dtype, c.nodata)
		for _, o := range []ReaderOptions{
			{TileRows: 16, TileCols: 16, Halo: 2, Edge: EdgeNoData},
			{TileRows: 45, TileCols: 38, Halo: 5, Edge: EdgeNoData, Workers: 1, Prefetch: 1},
			{TileRows: 12, TileCols: 20, Halo: 3, Overlap: 4, Edge: EdgeNoData, Spec: raster.ReadSpec{Bands: []int{2}}},
			{TileRows: 10, TileCols: 10, Halo: 50, Edge: EdgeNoData, Workers: 3},
		} {
			t.Run(fmt.Sprintf("%s/%+v", c.dtype, o), func(t *testing.T) {
				spec, _ := o.Spec.Resolve(raster.Info{Bands: 2, DType: c.dtype})
				full := subWindow(data, c.dtype.Size(), rows, cols, raster.Window{RowOff: 0, ColOff: 0, Rows: rows, Cols: cols}, spec.Bands)
				r, err := OpenTileReader(path, o)
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				tiling, _ := raster.NewTiling(rows, cols, o.TileRows, o.TileCols, o.Overlap)
				drain(t, r, tiling, o.Halo, func(tile Tile) []byte {
					return clampedRead(full, c.dtype.Size(), len(spec.Bands), rows, cols, tile.Padded, fill)
				})
			})
		}
	}
	// edge nodata needs a nodata value only when there is a halo
	plain := gtiff(t, filepath.Join(dir, "plain.tif"), raster.Float32, 1, 30, 40, cells(raster.Float32, 1, 30, 40, 1))
	r, err := OpenTileReader(plain, ReaderOptions{TileRows: 10, TileCols: 10, Halo: 1, Edge: EdgeNoData})
	if r != nil {
		r.Close()
	}
	wantStatus(t, err, raster.StatusInvalidArgument, "edge nodata on a raster without nodata")
	if err != nil && !strings.Contains(err.Error(), "nodata") {
		t.Errorf("message %q does not say why", err)
	}
	r, err = OpenTileReader(plain, ReaderOptions{TileRows: 10, TileCols: 10, Edge: EdgeNoData})
	if err != nil {
		t.Fatalf("edge nodata without a halo: %v", err)
	}
	r.Close()
}

// Cells beyond the edge must read as the raster's nodata cells read: in
// the requested type, converted as GDAL converts the nodata cells inside
// the raster, and with the nodata of the band being read.
func TestTileReaderHaloNoDataConverted(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		src    raster.DType
		nodata float64
		to     raster.DType
	}{
		{raster.Int16, -9999, raster.Float32},                   // exact either way
		{raster.Float32, -9999, raster.Int32},                   // exact either way
		{raster.UInt16, 65535, raster.Int16},                    // out of Int16's range: GDAL clamps to 32767
		{raster.Float32, -3.4028234663852886e+38, raster.Int16}, // the usual Float32 DEM nodata: GDAL clamps to -32768
		{raster.Float32, 1.5, raster.Byte},                      // GDAL rounds to 2
		{raster.Float32, -9999.75, raster.Int16},                // GDAL rounds to -10000
	} {
		t.Run(fmt.Sprintf("%s_%v_as_%s", c.src, c.nodata, c.to), func(t *testing.T) {
			data := cells(c.src, 1, 20, 20, 1)
			setCell(data, c.src, 20, 20, 0, 5, 5, c.nodata)
			nd := c.nodata
			path := filepath.Join(dir, fmt.Sprintf("%s_%v.tif", c.src, c.nodata))
			if err := WriteCOGBuffer(data, c.src, 1, 20, 20, raster.Georef{NoData: noData(&nd)}, path, COGOptions{}); err != nil {
				t.Fatal(err)
			}
			inside := gdalRead(t, path, raster.Window{RowOff: 5, ColOff: 5, Rows: 1, Cols: 1}, []int{1}, c.to) // a nodata cell, as GDAL converts it
			r, err := OpenTileReader(path, ReaderOptions{TileRows: 20, TileCols: 20, Halo: 1, Edge: EdgeNoData, Spec: raster.ReadSpec{DType: c.to}})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			buf := make([]byte, r.BufferLen())
			tile, ok, err := r.Next(buf)
			if err != nil || !ok {
				t.Fatal(ok, err)
			}
			outside := buf[:c.to.Size()] // cell (-1, -1)
			if got := buf[(6*22+6)*c.to.Size():][:c.to.Size()]; !bytes.Equal(got, inside) {
				t.Fatalf("the nodata cell inside reads %v, GDAL %v", got, inside)
			}
			if !bytes.Equal(outside, inside) {
				t.Errorf("cells beyond the edge read %v (%v) but the raster's nodata cells read %v (%v) as %s (padded %v)",
					rastertest.DecodeRef(outside, c.to, 0), outside, rastertest.DecodeRef(inside, c.to, 0), inside, c.to, tile.Padded)
			}
		})
	}
	t.Run("per-band nodata", func(t *testing.T) { haloPerBandNoData(t, dir) })
}

// Per-band nodata (a VRT can have it): band 2's halo is band 2's nodata.
func haloPerBandNoData(t *testing.T, dir string) {
	src := gtiff(t, filepath.Join(dir, "src.tif"), raster.Int16, 2, 20, 20, cells(raster.Int16, 2, 20, 20, 1))
	vrt := filepath.Join(dir, "bands.vrt")
	band := func(n, nodata int) string {
		return fmt.Sprintf(`<VRTRasterBand dataType="Int16" band="%d"><NoDataValue>%d</NoDataValue><SimpleSource><SourceFilename relativeToVRT="0">%s</SourceFilename><SourceBand>%d</SourceBand></SimpleSource></VRTRasterBand>`, n, nodata, src, n)
	}
	os.WriteFile(vrt, []byte(`<VRTDataset rasterXSize="20" rasterYSize="20">`+band(1, -1)+band(2, -2)+`</VRTDataset>`), 0o644)
	r, err := OpenTileReader(vrt, ReaderOptions{TileRows: 20, TileCols: 20, Halo: 1, Edge: EdgeNoData, Spec: raster.ReadSpec{Bands: []int{2}}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	buf := make([]byte, r.BufferLen())
	if _, _, err := r.Next(buf); err != nil {
		t.Fatal(err)
	}
	if v := rastertest.DecodeRef(buf, raster.Int16, 0); v != -2 {
		t.Errorf("band 2's halo holds %v, but band 2's nodata is -2 (band 1's is -1)", v)
	}
}

func TestTileReaderBufferTooSmall(t *testing.T) {
	nd := -7.0
	data := cells(raster.Float32, 1, 30, 40, 1)
	path := tmpPath(t, "nd.tif")
	if err := WriteCOGBuffer(data, raster.Float32, 1, 30, 40, raster.Georef{NoData: noData(&nd)}, path, COGOptions{}); err != nil {
		t.Fatal(err)
	}
	r, err := OpenTileReader(path, ReaderOptions{TileRows: 10, TileCols: 15, Halo: 2, Edge: EdgeNoData, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	tiling, _ := raster.NewTiling(30, 40, 10, 15, 0)
	fill := rastertest.EncodeRef(raster.Float32, nd)
	for i := uint64(0); i < tiling.Len(); i++ {
		w := tiling.At(i)
		need := (w.Rows + 4) * (w.Cols + 4) * 4
		if i%2 == 0 {
			for _, n := range []int64{0, 1, need - 1} {
				small := make([]byte, n)
				tile, ok, err := r.Next(small)
				if ok || raster.StatusOf(err) != raster.StatusInvalidArgument {
					t.Fatalf("tile %d, %d-byte buffer: %v %v %v", i, n, tile, ok, err)
				}
			}
		}
		buf := make([]byte, need) // exactly the tile's size is enough
		tile, ok, err := r.Next(buf)
		if err != nil || !ok || tile.Window != w {
			t.Fatalf("tile %d after too-small buffers: %v %v %v, want %v", i, tile, ok, err, w)
		}
		if want := clampedRead(data, 4, 1, 30, 40, tile.Padded, fill); !bytes.Equal(buf, want) {
			t.Fatalf("tile %d differs", i)
		}
	}
	if _, ok, err := r.Next(nil); ok || err != nil {
		t.Fatalf("end with a nil buffer: %v %v", ok, err)
	}
}

func goroutinesSettle(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		buf = buf[:runtime.Stack(buf, true)]
		t.Fatalf("%d goroutines, %d before:\n%s", n, before, buf)
	}
}

func TestTileReaderClose(t *testing.T) {
	path := tmpPath(t, "t.tif")
	if err := WriteCOGBuffer(cells(raster.Float32, 1, 512, 512, 3), raster.Float32, 1, 512, 512, raster.Georef{}, path, COGOptions{Options: []string{"BLOCKSIZE=128"}}); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	before := runtime.NumGoroutine()
	for _, c := range []struct {
		o     ReaderOptions
		taken int
	}{
		{ReaderOptions{TileRows: 16, TileCols: 16, Workers: 4, Prefetch: 8}, 1},
		{ReaderOptions{TileRows: 16, TileCols: 16, Workers: 4, Prefetch: 1}, 0},
		{ReaderOptions{TileRows: 8, TileCols: 8, Workers: 1, Prefetch: 1}, 5},
		{ReaderOptions{TileRows: 64, TileCols: 64}, 64}, // all taken
		{ReaderOptions{TileRows: 64, TileCols: 64, Halo: 3}, 10},
	} {
		r, err := OpenTileReader(path, c.o)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, r.BufferLen())
		for k := 0; k < c.taken; k++ {
			if _, ok, err := r.Next(buf); err != nil || !ok {
				t.Fatal(ok, err)
			}
		}
		start := time.Now()
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%+v: Close took %v", c.o, d)
		}
		wantStatus(t, r.Close(), raster.StatusInvalidArgument, "double close")
		_, ok, err := r.Next(buf)
		if ok {
			t.Fatal("a tile after Close")
		}
		wantStatus(t, err, raster.StatusInvalidArgument, "Next after Close")
		goroutinesSettle(t, before)
	}
}

// BufferLen is the size of the largest tile's buffer (reader.go), which
// holds any tile; tiles are clipped at the raster's edge, so it never needs
// to exceed the whole raster plus its halo.
func TestTileReaderBufferLen(t *testing.T) {
	path := gtiff(t, tmpPath(t, "b.tif"), raster.Float32, 2, 157, 203, cells(raster.Float32, 2, 157, 203, 1), "COMPRESS=DEFLATE")
	for _, o := range []ReaderOptions{
		{TileRows: 64, TileCols: 64},
		{TileRows: 50, TileCols: 70, Overlap: 5, Halo: 3},
		{TileRows: 157, TileCols: 203},
		{TileRows: 1024, TileCols: 1024}, // the default tile size, on a small raster
		{TileRows: 4096, TileCols: 4096, Halo: 2},
		{TileRows: 10, TileCols: 100000, Spec: raster.ReadSpec{Bands: []int{1}}},
	} {
		r, err := OpenTileReader(path, o)
		if err != nil {
			t.Fatal(err)
		}
		spec, _ := o.Spec.Resolve(r.Info())
		tiling, _ := raster.NewTiling(157, 203, o.TileRows, o.TileCols, o.Overlap)
		largest := int64(0)
		for i := uint64(0); i < tiling.Len(); i++ {
			w := tiling.At(i)
			largest = max(largest, spec.BufferLen(raster.Window{Rows: w.Rows + 2*o.Halo, Cols: w.Cols + 2*o.Halo}))
		}
		whole := spec.BufferLen(raster.Window{Rows: 157 + 2*o.Halo, Cols: 203 + 2*o.Halo})
		if got := r.BufferLen(); got < largest || got > whole {
			t.Errorf("%+v: BufferLen %d; the largest tile needs %d, the whole raster with its halo %d", o, got, largest, whole)
		}
		r.Close()
	}
}

// Next from several goroutines hands out every tile exactly once.
func TestTileReaderConcurrentNext(t *testing.T) {
	data := cells(raster.Int32, 1, 100, 90, 8)
	path := gtiff(t, tmpPath(t, "c.tif"), raster.Int32, 1, 100, 90, data, "TILED=YES", "BLOCKXSIZE=16", "BLOCKYSIZE=16", "COMPRESS=DEFLATE")
	r, err := OpenTileReader(path, ReaderOptions{TileRows: 9, TileCols: 11, Halo: 1, Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var mu sync.Mutex
	var seen []raster.Window
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, r.BufferLen())
			for {
				tile, ok, err := r.Next(buf)
				if err != nil {
					t.Error(err)
					return
				}
				if !ok {
					return
				}
				if want := clampedRead(data, 4, 1, 100, 90, tile.Padded, nil); !bytes.Equal(buf[:len(want)], want) {
					t.Errorf("tile %v differs", tile.Window)
				}
				mu.Lock()
				seen = append(seen, tile.Window)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	tiling, _ := raster.NewTiling(100, 90, 9, 11, 0)
	want := rastertest.Windows(tiling)
	less := func(ws []raster.Window) func(i, j int) bool {
		return func(i, j int) bool {
			a, b := ws[i], ws[j]
			return a.RowOff < b.RowOff || (a.RowOff == b.RowOff && a.ColOff < b.ColOff)
		}
	}
	sort.Slice(seen, less(seen))
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Fatalf("tiles handed out: %d, want %d exactly once each", len(seen), len(want))
	}
}

// A source that shrinks on disk while being read gives an IO error that
// ends the reader, through the direct decoder and through GDAL.
func TestTileReaderTruncatedSource(t *testing.T) {
	for _, compress := range []string{"deflate", "lzw"} {
		t.Run(compress, func(t *testing.T) {
			path := tmpPath(t, "t.tif")
			if err := WriteCOGBuffer(cells(raster.Float32, 1, 512, 512, 3), raster.Float32, 1, 512, 512, raster.Georef{}, path, COGOptions{Compress: compress, Options: []string{"BLOCKSIZE=128"}}); err != nil {
				t.Fatal(err)
			}
			r, err := OpenTileReader(path, ReaderOptions{TileRows: 64, TileCols: 64, Prefetch: 1, Workers: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			buf := make([]byte, r.BufferLen())
			if _, ok, err := r.Next(buf); err != nil || !ok {
				t.Fatal(ok, err)
			}
			st, _ := os.Stat(path)
			if err := os.Truncate(path, st.Size()/2); err != nil {
				t.Fatal(err)
			}
			type result struct {
				n   int
				err error
			}
			done := make(chan result, 1)
			go func() {
				defer func() {
					if p := recover(); p != nil {
						done <- result{-1, fmt.Errorf("panic: %v", p)}
					}
				}()
				for n := 1; ; n++ {
					if _, ok, err := r.Next(buf); err != nil || !ok {
						done <- result{n, err}
						return
					}
				}
			}()
			select {
			case res := <-done:
				if raster.StatusOf(res.err) != raster.StatusIO {
					t.Fatalf("after %d tiles: %v, want an IO error", res.n, res.err)
				}
				// the failure ends the reader: later calls return it again
				for k := 0; k < 2; k++ {
					_, ok, err := r.Next(buf)
					if ok || raster.StatusOf(err) != raster.StatusIO || err.Error() != res.err.Error() {
						t.Fatalf("after the failure: %v %v", ok, err)
					}
				}
			case <-time.After(30 * time.Second):
				t.Fatal("reading a truncated file hangs")
			}
		})
	}
}

func TestTileReaderOptionErrors(t *testing.T) {
	dir := t.TempDir()
	path := gtiff(t, filepath.Join(dir, "n.tif"), raster.Float32, 2, 30, 40, cells(raster.Float32, 2, 30, 40, 1))
	runtime.GC()
	before := runtime.NumGoroutine()
	for _, c := range []struct {
		o      ReaderOptions
		status raster.Status
		msg    string
	}{
		{ReaderOptions{TileRows: 0, TileCols: 10}, raster.StatusInvalidArgument, "tile_rows and tile_cols must be positive"},
		{ReaderOptions{TileRows: 10, TileCols: -1}, raster.StatusInvalidArgument, "tile_rows and tile_cols must be positive"},
		{ReaderOptions{TileRows: 10, TileCols: 10, Overlap: -1}, raster.StatusInvalidArgument, "overlap must be >= 0"},
		{ReaderOptions{TileRows: 10, TileCols: 10, Halo: -1}, raster.StatusInvalidArgument, ""},
		{ReaderOptions{TileRows: 10, TileCols: 10, Halo: raster.MaxRasterSide + 1}, raster.StatusInvalidArgument, ""},
		{ReaderOptions{TileRows: 10, TileCols: 10, Edge: 7}, raster.StatusInvalidArgument, ""},
		{ReaderOptions{TileRows: 10, TileCols: 10, Edge: -1}, raster.StatusInvalidArgument, ""},
		{ReaderOptions{TileRows: 10, TileCols: 10, Workers: -1}, raster.StatusInvalidArgument, ""},
		{ReaderOptions{TileRows: 10, TileCols: 10, Prefetch: -1}, raster.StatusInvalidArgument, ""},
		{ReaderOptions{TileRows: 10, TileCols: 10, Spec: raster.ReadSpec{Bands: []int{3}}}, raster.StatusInvalidArgument, ""},
		{ReaderOptions{TileRows: 10, TileCols: 10, Spec: raster.ReadSpec{Bands: []int{0}}}, raster.StatusInvalidArgument, ""},
		{ReaderOptions{TileRows: 10, TileCols: 10, Spec: raster.ReadSpec{DType: raster.Int64}}, raster.StatusUnsupported, ""},
		{ReaderOptions{TileRows: 10, TileCols: 10, Spec: raster.ReadSpec{DType: 77}}, raster.StatusUnsupported, ""},
	} {
		r, err := OpenTileReader(path, c.o)
		if r != nil {
			r.Close()
			t.Errorf("%+v accepted", c.o)
			continue
		}
		wantStatus(t, err, c.status, fmt.Sprintf("%+v", c.o))
		if c.msg != "" && (err == nil || err.Error() != c.msg) {
			t.Errorf("%+v: message %v, want %q", c.o, err, c.msg)
		}
	}
	for name, status := range map[string]raster.Status{filepath.Join(dir, "missing.tif"): raster.StatusNotFound, "": raster.StatusInvalidArgument, dir: raster.StatusIO} {
		r, err := OpenTileReader(name, ReaderOptions{TileRows: 10, TileCols: 10})
		if r != nil {
			r.Close()
		}
		wantStatus(t, err, status, name)
	}
	goroutinesSettle(t, before)
	// a failed open leaves the raster closed: the file can be removed and
	// nothing keeps reading it
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

// Tile and halo sizes far beyond the raster are legal; they must not crash
// the process (a panic on a worker goroutine cannot be recovered). Run in a
// child process so that a crash fails only this test.
func TestTileReaderHugeSizes(t *testing.T) {
	for _, c := range []struct {
		name string
		o    ReaderOptions
	}{
		// one tile, the whole raster: tile_windows accepts any tile size
		{"tile 2^31", ReaderOptions{TileRows: 1 << 31, TileCols: 1 << 31}},
		{"tile 2^40", ReaderOptions{TileRows: 1 << 40, TileCols: 1 << 40}},
		{"tile 10^6", ReaderOptions{TileRows: 1000000, TileCols: 1000000, Workers: 1}},
		// a halo as large as allowed: either refused up front or served
		{"halo 2^30", ReaderOptions{TileRows: 10, TileCols: 10, Halo: 1 << 30}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, ok := isolated(t, "case", func() error {
				data := cells(raster.Float32, 1, 50, 60, 1)
				path := filepath.Join(os.TempDir(), fmt.Sprintf("cloudio-huge-%d.tif", os.Getpid()))
				defer os.Remove(path)
				if err := WriteCOGBuffer(data, raster.Float32, 1, 50, 60, raster.Georef{}, path, COGOptions{}); err != nil {
					return err
				}
				r, err := OpenTileReader(path, c.o)
				if err != nil {
					if c.o.Halo > 0 && raster.StatusOf(err) == raster.StatusInvalidArgument {
						return nil // refused up front: fine
					}
					return fmt.Errorf("open: %v", err)
				}
				defer r.Close()
				time.Sleep(300 * time.Millisecond) // let the workers start decoding
				tiling, _ := raster.NewTiling(50, 60, c.o.TileRows, c.o.TileCols, 0)
				for i := uint64(0); i < tiling.Len(); i++ {
					w := tiling.At(i)
					p := raster.Window{RowOff: w.RowOff - c.o.Halo, ColOff: w.ColOff - c.o.Halo, Rows: w.Rows + 2*c.o.Halo, Cols: w.Cols + 2*c.o.Halo}
					need := p.Rows * p.Cols * 4
					if c.o.Halo > 0 {
						// no one can allocate this: Next must say so
						if _, ok, err := r.Next(make([]byte, 1024)); ok || raster.StatusOf(err) != raster.StatusInvalidArgument {
							return fmt.Errorf("halo tile with a small buffer: %v %v", ok, err)
						}
						return nil
					}
					buf := make([]byte, need)
					tile, ok, err := r.Next(buf)
					if err != nil || !ok || tile.Window != w {
						return fmt.Errorf("tile %d: %v %v %v", i, tile, ok, err)
					}
					if want := clampedRead(data, 4, 1, 50, 60, p, nil); !bytes.Equal(buf, want) {
						return fmt.Errorf("tile %d differs", i)
					}
					if r.BufferLen() < need || r.BufferLen() > 50*60*4 {
						return fmt.Errorf("BufferLen %d, but the largest tile needs %d (the whole raster %d)", r.BufferLen(), need, 50*60*4)
					}
				}
				return nil
			})
			if !ok {
				t.Fatalf("%+v:\n%s", c.o, firstLines(out, 12))
			}
		})
	}
}

// The reader reads a raster GDAL opens through another driver.
func TestTileReaderVRT(t *testing.T) {
	dir := t.TempDir()
	data := cells(raster.Int16, 1, 40, 30, 1)
	src := gtiff(t, filepath.Join(dir, "src.tif"), raster.Int16, 1, 40, 30, data)
	vrt := filepath.Join(dir, "a.vrt")
	os.WriteFile(vrt, []byte(fmt.Sprintf(`<VRTDataset rasterXSize="30" rasterYSize="40"><VRTRasterBand dataType="Int16" band="1"><SimpleSource><SourceFilename relativeToVRT="0">%s</SourceFilename><SourceBand>1</SourceBand></SimpleSource></VRTRasterBand></VRTDataset>`, src)), 0o644)
	r, err := OpenTileReader(vrt, ReaderOptions{TileRows: 16, TileCols: 16, Halo: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	tiling, _ := raster.NewTiling(40, 30, 16, 16, 0)
	drain(t, r, tiling, 2, func(tile Tile) []byte { return clampedRead(data, 2, 1, 40, 30, tile.Padded, nil) })
}
