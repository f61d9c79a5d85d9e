package core

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloudio-dem/cloudio/internal/raster"
	"github.com/cloudio-dem/cloudio/internal/tiff"
)

// withByteCounts rewrites the block byte counts of path's first IFD as
// LONG8 values appended to the file (GDAL writes SHORT or LONG ones when
// they fit), so that a test can make them claim anything.
func withByteCounts(t *testing.T, path string, edit func(counts []uint64)) {
	t.Helper()
	file := readFile(t, path)
	f, err := tiff.Open(tiff.Bytes(file), tiff.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if !f.BigTIFF {
		t.Fatal("withByteCounts needs a BigTIFF")
	}
	d := f.IFDs[0]
	for i, e := range d.Entries {
		if e.Tag != tiff.TagTileByteCounts && e.Tag != tiff.TagStripByteCounts {
			continue
		}
		counts, err := f.Uints(e, 0, e.Count)
		if err != nil {
			t.Fatal(err)
		}
		edit(counts)
		for len(file)%8 != 0 {
			file = append(file, 0)
		}
		at := d.Offset + 8 + int64(i)*20 // the entry: tag, type, count, value or offset
		binary.LittleEndian.PutUint16(file[at+2:], tiff.TypeLong8)
		binary.LittleEndian.PutUint64(file[at+12:], uint64(len(file)))
		for _, c := range counts {
			file = binary.LittleEndian.AppendUint64(file, c)
		}
		if err := os.WriteFile(path, file, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatal("no byte counts")
}

// hugeTileFile is a 64 x 64 Float32 BigTIFF of four DEFLATE tiles whose last
// tile claims count bytes.
func hugeTileFile(t *testing.T, count uint64) string {
	path := gtiff(t, tmpPath(t, fmt.Sprintf("huge-%d.tif", count)), raster.Float32, 1, 64, 64, cells(raster.Float32, 1, 64, 64, 1),
		"BIGTIFF=YES", "TILED=YES", "BLOCKXSIZE=32", "BLOCKYSIZE=32", "COMPRESS=DEFLATE")
	withByteCounts(t, path, func(c []uint64) { c[3] = count })
	return path
}

// A BigTIFF whose TileByteCounts claim 2^40, 2^62, 2^63+5 or 2^64-1 bytes
// (a valid header) is a read error naming the file and the tile, never a
// crash: the probes run in a child process so that a regression fails the
// test instead of the suite.
func TestHugeByteCountsAreErrors(t *testing.T) {
	for _, count := range []uint64{1 << 40, 1 << 62, 1<<63 + 5, math.MaxUint64} {
		path := hugeTileFile(t, count)
		for _, probe := range []struct {
			name string
			read func() error
		}{
			{"window", func() error {
				ds, err := OpenDataset(path)
				if err != nil {
					return err
				}
				defer ds.Close()
				if ds.raw == nil {
					return fmt.Errorf("not decoded directly")
				}
				return ds.ReadWindow(raster.Window{RowOff: 0, ColOff: 0, Rows: 64, Cols: 64}, raster.ReadSpec{}, make([]byte, 64*64*4))
			}},
			{"tiles", func() error {
				r, err := OpenTileReader(path, ReaderOptions{TileRows: 16, TileCols: 16, Halo: 2})
				if err != nil {
					return err
				}
				defer r.Close()
				return readToEnd(t, r)
			}},
		} {
			name := fmt.Sprintf("%s-%d", probe.name, count)
			out, _ := isolated(t, name, func() error {
				err := probe.read()
				if raster.StatusOf(err) != raster.StatusIO || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "tile (1, 1)") {
					return fmt.Errorf("want an IO error naming %s and tile (1, 1), got %v (%v)", path, raster.StatusOf(err), err)
				}
				return nil
			})
			if !strings.Contains(out, "ISOLATED-OK") {
				t.Errorf("%s: %s", name, firstLines(out, 12))
			}
		}
	}
}

// A byte count inside the file but beyond what any encoding of the block
// takes is refused before anything is allocated for it; a short
// uncompressed block is an error, not a block padded with whatever the
// buffer held.
func TestImplausibleByteCountsAreErrors(t *testing.T) {
	for _, c := range []struct {
		name, compress string
		count          func(old uint64) uint64
		want           string
	}{
		{"deflate", "DEFLATE", func(uint64) uint64 { return 1 << 20 }, "more than the"},
		{"raw-long", "NONE", func(old uint64) uint64 { return old + 1 }, "more than the"},
		{"raw-short", "NONE", func(old uint64) uint64 { return old - 100 }, "must hold"},
	} {
		path := gtiff(t, tmpPath(t, c.name+".tif"), raster.Float32, 1, 64, 64, cells(raster.Float32, 1, 64, 64, 1),
			"BIGTIFF=YES", "TILED=YES", "BLOCKXSIZE=32", "BLOCKYSIZE=32", "COMPRESS="+c.compress)
		f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.Write(make([]byte, 2<<20)) // room for the claimed bytes: only the layout bounds them
		f.Close()
		withByteCounts(t, path, func(counts []uint64) { counts[2] = c.count(counts[2]) })
		ds, err := OpenDataset(path)
		if err != nil {
			t.Fatal(err)
		}
		if ds.raw == nil {
			t.Fatalf("%s: not decoded directly", c.name)
		}
		err = ds.ReadWindow(raster.Window{RowOff: 0, ColOff: 0, Rows: 64, Cols: 64}, raster.ReadSpec{}, make([]byte, 64*64*4))
		ds.Close()
		if raster.StatusOf(err) != raster.StatusIO || !strings.Contains(err.Error(), "tile (0, 1)") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v (%v), want an IO error naming tile (0, 1): %q", c.name, raster.StatusOf(err), err, c.want)
		}
	}
}

// The decoder reads a raster exactly as GDAL sees it or not at all: a file
// whose first IFD disagrees with GDAL's view is read through GDAL.
func TestDirectDecodeAgreesWithGDAL(t *testing.T) {
	dir := t.TempDir()
	// GDAL splits a single uncompressed strip into strips of one row.
	one := gtiff(t, filepath.Join(dir, "one-strip.tif"), raster.Byte, 1, 50, 40, cells(raster.Byte, 1, 50, 40, 1), "BLOCKYSIZE=50")
	ds, err := OpenDataset(one)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	if ds.raw != nil && (ds.Info().BlockRows != ds.raw.dec.Image().BlockHeight) {
		t.Fatalf("decoding %d-row blocks directly where GDAL sees %d", ds.raw.dec.Image().BlockHeight, ds.Info().BlockRows)
	}
	got := make([]byte, 50*40)
	if err := ds.ReadWindow(raster.Window{RowOff: 0, ColOff: 0, Rows: 50, Cols: 40}, raster.ReadSpec{}, got); err != nil {
		t.Fatal(err)
	}
	if want := gdalRead(t, one, raster.Window{RowOff: 0, ColOff: 0, Rows: 50, Cols: 40}, []int{1}, raster.Byte); string(got) != string(want) {
		t.Fatal("read differs from GDAL")
	}
}

// A panic on any goroutine the library starts fails the operation with
// StatusInternal instead of ending the process (probes in a child process).
func TestGoroutinePanicsAreErrors(t *testing.T) {
	path := gtiff(t, tmpPath(t, "p.tif"), raster.Float32, 1, 100, 100, cells(raster.Float32, 1, 100, 100, 1), "COMPRESS=LZW")
	for _, where := range []string{"reader.dispatch", "reader.work"} {
		out, _ := isolated(t, where, func() error {
			raster.FaultHook = func(at string) {
				if at == where {
					panic("injected")
				}
			}
			r, err := OpenTileReader(path, ReaderOptions{TileRows: 30, TileCols: 30, Workers: 3})
			if err != nil {
				return err
			}
			err = readToEnd(t, r)
			if raster.StatusOf(err) != raster.StatusInternal || !strings.Contains(err.Error(), "injected") {
				return fmt.Errorf("got %v (%v), want the injected panic as StatusInternal", raster.StatusOf(err), err)
			}
			if again := readToEnd(t, r); again != err {
				return fmt.Errorf("a later Next returned %v", again)
			}
			return r.Close()
		})
		if !strings.Contains(out, "ISOLATED-OK") {
			t.Errorf("%s: %s", where, firstLines(out, 12))
		}
	}
}

// damage flips n bytes in the middle of block (bx, by) of image ifd of path.
func damage(t *testing.T, path string, ifd int, bx, by int64, n int) {
	t.Helper()
	file := readFile(t, path)
	f, err := tiff.Open(tiff.Bytes(file), tiff.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	im, err := f.Image(ifd)
	if err != nil {
		t.Fatal(err)
	}
	spans, err := im.Spans(0, by, bx, 1)
	if err != nil || spans[0].N < uint64(n)+16 {
		t.Fatalf("block (%d, %d): %v %v", bx, by, spans, err)
	}
	mid := spans[0].Off + spans[0].N/2 - uint64(n)/2
	for i := uint64(0); i < uint64(n); i++ {
		file[mid+i] ^= 0x5A
	}
	if err := os.WriteFile(path, file, 0o644); err != nil {
		t.Fatal(err)
	}
}

// A damaged block that the direct decoder finds (64 flipped bytes inside a
// DEFLATE tile, which GDAL reads as garbage without an error) fails every
// writer that reads the source, and leaves nothing at the destination.
func TestDamagedSourcesAreErrorsForWriters(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src.tif")
	data := cells(raster.Float32, 1, 300, 400, 5)
	if err := WriteCOGBuffer(data, raster.Float32, 1, 300, 400, raster.Georef{}, src, COGOptions{Options: []string{"BLOCKSIZE=128"}}); err != nil {
		t.Fatal(err)
	}
	damage(t, src, 0, 1, 0, 64)
	for what, write := range map[string]func(dst string) error{
		"write_cog":  func(dst string) error { return WriteCOG(src, dst+".tif", COGOptions{}) },
		"write_zarr": func(dst string) error { return WriteZarr(src, dst+".zarr", ZarrOptions{}) },
		"tiles": func(string) error {
			r, err := OpenTileReader(src, ReaderOptions{TileRows: 100, TileCols: 100})
			if err != nil {
				return err
			}
			defer r.Close()
			return readToEnd(t, r)
		},
	} {
		err := write(filepath.Join(dir, "out"))
		if raster.StatusOf(err) != raster.StatusIO || !strings.Contains(err.Error(), "tile (1, 0)") || !strings.Contains(err.Error(), src) {
			t.Errorf("%s: got %v (%v), want an IO error naming %s and tile (1, 0)", what, raster.StatusOf(err), err, src)
		}
	}
	if names := listDir(t, dir); len(names) != 1 {
		t.Errorf("left behind: %v", names)
	}
}

// write_cog finds damage in every image of its source: in the raster while
// it reads it for the statistics (a pass that decodes every block with the
// direct decoder, which verify then skips), and in the overviews while GDAL
// translates; without statistics, verify decodes the raster too.
func TestWriteCOGFindsDamageInEveryImage(t *testing.T) {
	dir := t.TempDir()
	clean := filepath.Join(dir, "clean.tif")
	if err := WriteCOGBuffer(cells(raster.Float32, 1, 600, 700, 5), raster.Float32, 1, 600, 700, raster.Georef{}, clean,
		COGOptions{Options: []string{"BLOCKSIZE=128"}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		ifd        int
		statistics string
	}{{0, "YES"}, {0, "NO"}, {1, "YES"}, {1, "NO"}} {
		src, dst := filepath.Join(dir, "src.tif"), filepath.Join(dir, "out.tif")
		if err := os.WriteFile(src, readFile(t, clean), 0o644); err != nil {
			t.Fatal(err)
		}
		damage(t, src, c.ifd, 1, 0, 64)
		err := WriteCOG(src, dst, COGOptions{Options: []string{"STATISTICS=" + c.statistics}})
		if raster.StatusOf(err) != raster.StatusIO || !strings.Contains(err.Error(), fmt.Sprintf("IFD %d: tile (1, 0)", c.ifd)) || !strings.Contains(err.Error(), src) {
			t.Errorf("IFD %d, STATISTICS=%s: got %v (%v), want an IO error naming %s and the tile", c.ifd, c.statistics, raster.StatusOf(err), err, src)
		}
		if _, err := os.Stat(dst); err == nil {
			t.Fatalf("IFD %d, STATISTICS=%s: a COG was written", c.ifd, c.statistics)
		}
		if c.ifd == 0 && c.statistics == "YES" { // the statistics pass found it: verify leaves the raster alone
			ds, err := OpenDataset(src)
			if err != nil {
				t.Fatal(err)
			}
			if err := ds.raw.verify(src, true, nil); err != nil {
				t.Errorf("verify of the overviews only: %v", err)
			}
			if err := ds.raw.verify(src, false, nil); err == nil {
				t.Error("verify of every image passed a damaged raster")
			}
			ds.Close()
		}
	}
	ds, err := OpenDataset(clean)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	step := datasetStatistics(ds)
	if _, _, err := step.metadata(nil); err != nil || !step.decodedRaster() {
		t.Errorf("the statistics pass of a GeoTIFF did not decode its raster directly (%v)", err)
	}
}

// An uncompressed tile whose byte count is short fails write_cog too,
// where GDAL would read what follows it in the file as its cells.
func TestShortUncompressedTileFailsWriteCOG(t *testing.T) {
	src := gtiff(t, tmpPath(t, "raw.tif"), raster.Float32, 1, 64, 64, cells(raster.Float32, 1, 64, 64, 1),
		"BIGTIFF=YES", "TILED=YES", "BLOCKXSIZE=32", "BLOCKYSIZE=32")
	withByteCounts(t, src, func(c []uint64) { c[2] -= 100 })
	dst := tmpPath(t, "out.tif")
	err := WriteCOG(src, dst, COGOptions{})
	if raster.StatusOf(err) != raster.StatusIO || !strings.Contains(err.Error(), "tile (0, 1)") {
		t.Fatalf("got %v (%v)", raster.StatusOf(err), err)
	}
	if _, err := os.Stat(dst); err == nil {
		t.Fatal("a COG was written")
	}
}

// Sources of NBITS=1 or 12 samples get no predictor (GDAL's take whole
// bytes only) and stay as they are.
func TestWriteCOGOfNBitsSources(t *testing.T) {
	for _, c := range []struct {
		dtype raster.DType
		nbits int
	}{{raster.Byte, 1}, {raster.UInt16, 12}} {
		data := make([]byte, 64*64*c.dtype.Size())
		for k := 0; k < 64*64; k++ {
			c.dtype.SetCell(data, k, float64(k%(1<<c.nbits)))
		}
		src := gtiff(t, tmpPath(t, "nbits.tif"), c.dtype, 1, 64, 64, data, fmt.Sprintf("NBITS=%d", c.nbits))
		dst := tmpPath(t, "cog.tif")
		if err := WriteCOG(src, dst, COGOptions{}); err != nil {
			t.Fatalf("NBITS=%d: %v", c.nbits, err)
		}
		if got := gdalRead(t, dst, raster.Window{Rows: 64, Cols: 64}, []int{1}, c.dtype); string(got) != string(data) {
			t.Fatalf("NBITS=%d: cells differ", c.nbits)
		}
	}
}

// A destination whose name is as long as the file system allows gets a
// temporary name that fits; one whose path is too long for GDAL is a clear
// error up front.
func TestLongDestinationNames(t *testing.T) {
	src := gtiff(t, tmpPath(t, "src.tif"), raster.Byte, 1, 20, 20, cells(raster.Byte, 1, 20, 20, 1))
	dir := t.TempDir()
	for _, n := range []int{230, 251} {
		dst := filepath.Join(dir, strings.Repeat("é", (n-4)/2)+strings.Repeat("x", (n-4)%2)+".tif")
		if err := WriteCOG(src, dst, COGOptions{}); err != nil {
			t.Fatalf("a %d-byte name: %v", len(filepath.Base(dst)), err)
		}
		w, err := CreateTileWriter(dst+"w", WriterSpec{Rows: 20, Cols: 20, Bands: 1, DType: raster.Byte}, COGOptions{})
		if err != nil {
			t.Fatalf("a tile writer of a %d-byte name: %v", len(filepath.Base(dst)), err)
		}
		w.Abort()
	}
	deep := dir
	for len(deep) < 2036-210 {
		deep = filepath.Join(deep, strings.Repeat("d", 200))
	}
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(deep, strings.Repeat("f", 2036-len(deep)-1))
	err := WriteCOG(src, dst, COGOptions{})
	if raster.StatusOf(err) != raster.StatusInvalidArgument || !strings.Contains(err.Error(), "use a shorter path") {
		t.Fatalf("a %d-byte path: %v (%v)", len(dst), raster.StatusOf(err), err)
	}
}
