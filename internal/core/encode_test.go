package core

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/airbusgeo/godal"

	"github.com/cloudio-dem/cloudio/internal/raster"
	"github.com/cloudio-dem/cloudio/internal/storage"
)

// levels reads every band of every level (full resolution, then each
// overview) of the COG at path, in its own type, through GDAL.
func levels(t *testing.T, path string) [][]float64 {
	t.Helper()
	ds, err := godal.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	var out [][]float64
	for b, band := range ds.Bands() {
		for l, level := range append([]godal.Band{band}, band.Overviews()...) {
			st := level.Structure()
			cells := make([]float64, st.SizeX*st.SizeY)
			if err := level.Read(0, 0, cells, st.SizeX, st.SizeY); err != nil {
				t.Fatalf("%s band %d level %d: %v", path, b+1, l, err)
			}
			out = append(out, cells)
		}
	}
	return out
}

// metadataOf is the dataset's and each band's metadata, nodata and colour
// interpretation, and the georeferencing GDAL reads from the file at path.
func metadataOf(t *testing.T, path string) []string {
	t.Helper()
	ds, err := godal.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	gt, _ := ds.GeoTransform(godal.ErrLogger(quietWarnings))
	out := []string{fmt.Sprint(ds.Metadatas()), ds.Projection(), fmt.Sprint(gt), fmt.Sprint(ds.Metadatas(godal.Domain("IMAGE_STRUCTURE")))}
	for _, b := range ds.Bands() {
		nd, ok := b.NoData()
		st := b.Structure()
		md := b.Metadatas()
		for k, v := range md {
			// Sums in another order: the last digits differ.
			if f, err := strconv.ParseFloat(v, 64); err == nil && strings.HasPrefix(k, "STATISTICS_") {
				md[k] = strconv.FormatFloat(f, 'g', 10, 64)
			}
		}
		out = append(out, fmt.Sprint(md, nd, ok, b.ColorInterp(), st.BlockSizeX, len(b.Overviews())))
	}
	return out
}

// What cloudio's encoder writes is what GDAL's COG driver writes, cell for
// cell at every level (nearest exactly, average to float rounding), with the
// same metadata, statistics and georeferencing, for every data type,
// striped and tiled sources, 1 to 3 bands and nodata.
func TestWriteCOGThroughTheEncoderIsWhatGDALWrites(t *testing.T) {
	const rows, cols = 700, 900
	for i, dtype := range []raster.DType{raster.Byte, raster.UInt16, raster.Int16, raster.UInt32, raster.Int32,
		raster.Float32, raster.Float64} { // godal writes no 64-bit integers: internal/tiff's tests have them
		bands := 1 + i%3
		layout := []string{}
		if i%2 == 1 {
			layout = []string{"TILED=YES", "BLOCKXSIZE=256", "BLOCKYSIZE=256", "COMPRESS=DEFLATE"}
		}
		for _, nodata := range []*float64{nil, ptr(7)} {
			t.Run(fmt.Sprintf("%s-%d-bands-%v-nodata-%v", dtype, bands, layout, nodata != nil), func(t *testing.T) {
				dir := t.TempDir()
				gt := [6]float64{1000, 2, 0, 5000, 0, -2}
				src := makeRaster(t, filepath.Join(dir, "src.tif"), rasterSpec{dtype: dtype, bands: bands, rows: rows, cols: cols,
					gt: &gt, crs: "EPSG:32633", nodata: nodata, options: layout}, cells(dtype, bands, rows, cols, int64(i)))
				options := []string{"BLOCKSIZE=256"}
				ds, err := OpenDataset(src)
				if err != nil {
					t.Fatal(err)
				}
				defer ds.Close()
				opts, err := COGCreationOptions("", dtype, int64(bands), options)
				if err != nil {
					t.Fatal(err)
				}
				ours := filepath.Join(dir, "ours.tif")
				encoded, err := encodeDataset(ds, cogEncoding{opts: opts, scan: true}, &storage.AtomicOutput{Dst: ours, Tmp: ours})
				if err != nil || !encoded {
					t.Fatalf("encoded %v, %v", encoded, err)
				}
				validateCOG(t, ours)
				gdal := filepath.Join(dir, "gdal.tif")
				if err := writeCOG(source{name: ds.name, stats: datasetStatistics(ds)}, gdal, dtype, int64(bands), COGOptions{Options: options}); err != nil {
					t.Fatal(err)
				}
				if got, want := metadataOf(t, ours), metadataOf(t, gdal); !reflect.DeepEqual(got, want) {
					t.Fatalf("metadata:\n got %q\nwant %q", got, want)
				}
				got, want := levels(t, ours), levels(t, gdal)
				if len(got) != len(want) || len(got) != 3*bands {
					t.Fatalf("%d images, GDAL %d", len(got), len(want))
				}
				for l := range want {
					for c := range want[l] {
						// GDAL 3.6 rounds 32-bit integers through float32 in
						// nearest overviews, the encoder keeps them (see
						// internal/tiff's TestNearestKeepsEveryValue).
						a, b := got[l][c], want[l][c]
						if close := dtype.IsFloat() && math.Abs(a-b) <= 1e-5*math.Abs(b) || dtype.Size() == 4 && math.Abs(a-b) <= 1; !sameFloat(a, b) && !close {
							t.Fatalf("image %d cell %d: %v, GDAL %v", l, c, a, b)
						}
					}
				}
			})
		}
	}
}

// What the encoder does not implement is GDAL's: other compressions,
// resamplings and options, and sources with masks of their own or
// overviews (which GDAL's COG driver copies).
func TestWriteCOGLeavesToGDALWhatTheEncoderDoesNotImplement(t *testing.T) {
	dir := t.TempDir()
	data := cells(raster.Float32, 1, 300, 400, 1)
	plain := gtiff(t, filepath.Join(dir, "plain.tif"), raster.Float32, 1, 300, 400, data)
	masked := gtiff(t, filepath.Join(dir, "masked.tif"), raster.Float32, 1, 300, 400, data)
	withOverviews := gtiff(t, filepath.Join(dir, "overviews.tif"), raster.Float32, 1, 300, 400, data)
	h, err := godal.Open(masked, godal.Update())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.CreateMaskBand(gmfPerDataset, godal.ConfigOption("GDAL_TIFF_INTERNAL_MASK=YES")); err != nil {
		t.Fatal(err)
	}
	h.Close()
	if h, err = godal.Open(withOverviews, godal.Update()); err != nil {
		t.Fatal(err)
	}
	if err := h.BuildOverviews(godal.Levels(2)); err != nil {
		t.Fatal(err)
	}
	h.Close()
	for _, c := range []struct {
		src      string
		compress string
		options  []string
		encoded  bool
	}{
		{plain, "", nil, true},
		{plain, "ZSTD", []string{"LEVEL=3"}, true},
		{plain, "NONE", []string{"OVERVIEWS=NONE"}, true},
		{plain, "LZW", nil, false},
		{plain, "", []string{"OVERVIEW_RESAMPLING=CUBIC"}, true}, // no overviews: 512 x 512 tiles hold it
		{plain, "", []string{"OVERVIEW_RESAMPLING=CUBIC", "BLOCKSIZE=128"}, false},
		{plain, "", []string{"SPARSE_OK=TRUE"}, false},
		{plain, "", []string{"TILING_SCHEME=GoogleMapsCompatible"}, false},
		{masked, "", nil, false},
		{withOverviews, "", nil, false},
	} {
		ds, err := OpenDataset(c.src)
		if err != nil {
			t.Fatal(err)
		}
		opts, err := COGCreationOptions(c.compress, raster.Float32, 1, c.options)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, "out.tif")
		encoded, err := encodeDataset(ds, cogEncoding{opts: opts}, &storage.AtomicOutput{Dst: dst, Tmp: dst})
		ds.Close()
		if err != nil || encoded != c.encoded {
			t.Fatalf("%s %s %v: encoded %v (want %v), %v", filepath.Base(c.src), c.compress, c.options, encoded, c.encoded, err)
		}
		wantDir(t, dir, append([]string{"masked.tif", "overviews.tif", "plain.tif"}, map[bool][]string{true: {"out.tif"}}[encoded]...)...)
		if encoded {
			validateCOG(t, dst)
		}
		if encoded {
			if err := os.Remove(dst); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// write_cog of a file or a buffer and the tile writer go through the
// encoder: their nearest overviews of 32-bit integers hold the cells of the
// raster, which GDAL 3.6's COG driver would round through float32.
func TestWritersKeepEvery32BitValueInOverviews(t *testing.T) {
	const rows, cols = 600, 700
	dir := t.TempDir()
	data := make([]byte, rows*cols*4)
	for i := range rows * cols {
		binary.LittleEndian.PutUint32(data[4*i:], uint32(16777217+2*i)) // odd, above 2^24: float32 cannot hold them
	}
	src := gtiff(t, filepath.Join(dir, "src.tif"), raster.UInt32, 1, rows, cols, data)
	options := COGOptions{Options: []string{"BLOCKSIZE=256"}}
	fromFile := filepath.Join(dir, "file.tif")
	if err := WriteCOG(src, fromFile, options); err != nil {
		t.Fatal(err)
	}
	fromBuffer := filepath.Join(dir, "buffer.tif")
	if err := WriteCOGBuffer(data, raster.UInt32, 1, rows, cols, raster.Georef{}, fromBuffer, options); err != nil {
		t.Fatal(err)
	}
	fromTiles := filepath.Join(dir, "tiles.tif")
	w, err := CreateTileWriter(fromTiles, WriterSpec{Rows: rows, Cols: cols, Bands: 1, DType: raster.UInt32}, options)
	if err != nil {
		t.Fatal(err)
	}
	for r := int64(0); r < rows; r += 100 {
		win := raster.Window{RowOff: r, ColOff: 0, Rows: 100, Cols: cols}
		if err := w.Write(win, data[r*cols*4:(r+100)*cols*4]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(nil); err != nil {
		t.Fatal(err)
	}
	for _, cog := range []string{fromFile, fromBuffer, fromTiles} {
		validateCOG(t, cog)
		l := levels(t, cog)
		if len(l) != 3 {
			t.Fatalf("%s: %d levels", cog, len(l))
		}
		for _, level := range l[1:] {
			for i, v := range level {
				if int64(v)%2 == 0 || v < 16777217 {
					t.Fatalf("%s: overview cell %d is %v, not a cell of the raster", filepath.Base(cog), i, v)
				}
			}
		}
	}
}

// A COG for S3 goes to its object while it is encoded, with nothing of its
// size on local disk: with files limited to 64 KiB in this process (a
// TMPDIR far smaller than the COG), write_cog uploads the COG it writes
// locally. The limit is per process: run in a child.
func TestCOGsForS3AreStreamedNotStaged(t *testing.T) {
	out, ok := isolated(t, "streamed", func() error {
		dir, err := os.MkdirTemp("", "cloudio-stream-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		s3 := newFakeS3(t, "s3://stream-test")
		const rows, cols = 700, 800
		data := cells(raster.Float32, 1, rows, cols, 4)
		src := gtiff(t, filepath.Join(dir, "src.tif"), raster.Float32, 1, rows, cols, data)
		spec := WriterSpec{Rows: rows, Cols: cols, Bands: 1, DType: raster.Float32}
		writers := map[string]func(dst string) error{
			"write_cog": func(dst string) error { return WriteCOG(src, dst, COGOptions{}) },
			"a streamed tile writer": func(dst string) error {
				return writeSequence(dst, data, spec, withStream(COGOptions{}), "", 0, grid(rows, cols, 256, 300))
			},
		}
		want := map[string][]byte{}
		for name, write := range writers {
			local := filepath.Join(dir, "local.tif")
			if err := write(local); err != nil {
				return err
			}
			if want[name], err = os.ReadFile(local); err != nil || len(want[name]) < 1<<20 {
				return fmt.Errorf("%s: the local COG: %d bytes, %v", name, len(want[name]), err)
			}
		}
		if err := setFileSizeLimit(64 << 10); err != nil {
			return err
		}
		for name, write := range writers {
			if err := write("s3://stream-test/" + name + ".tif"); err != nil {
				return fmt.Errorf("%s: %v", name, err)
			}
		}
		if err := setFileSizeLimit(0); err != nil {
			return err
		}
		for name := range writers {
			got, _ := s3.object("/stream-test/" + name + ".tif")
			want := want[name]
			// The local file's full resolution starts on a file system block
			// (FileSink moves it without copying): up to 4 KiB of zeros before.
			if len(got) > len(want) || len(want)-len(got) >= 4096 || !bytes.Equal(got[len(got)-1<<20:], want[len(want)-1<<20:]) {
				return fmt.Errorf("%s: the object holds %d bytes, the local COG %d", name, len(got), len(want))
			}
			streamed, local := filepath.Join(dir, "streamed.tif"), filepath.Join(dir, "local.tif")
			if err := os.WriteFile(streamed, got, 0o644); err != nil {
				return err
			}
			if err := os.WriteFile(local, want, 0o644); err != nil {
				return err
			}
			validateCOG(t, streamed)
			if !reflect.DeepEqual(levels(t, streamed), levels(t, local)) || !reflect.DeepEqual(metadataOf(t, streamed), metadataOf(t, local)) {
				return fmt.Errorf("%s: the object is not the local COG", name)
			}
		}
		if names := listDir(t, os.TempDir()); slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(n, ".cloudio") }) {
			return fmt.Errorf("left in TMPDIR: %v", names)
		}
		return nil
	})
	if !ok {
		t.Fatal(firstLines(out, 20))
	}
}
