package core

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloudio-dem/cloudio/internal/raster"
)

// streamWrite is one window a test writes, with its mask (nil for none).
type streamWrite struct {
	win  raster.Window
	mask func(r, c int64) bool // valid cells; nil: all
}

// writeSequence writes windows of data (band-sequential bands x rows x
// cols) through a tile writer, each with its own values (data xor its
// index: where windows overlap, the last one wins).
func writeSequence(dst string, data []byte, spec WriterSpec, o COGOptions, src string, copy CopyFlags, writes []streamWrite) error {
	w, err := CreateTileWriter(dst, spec, o)
	if err != nil {
		return err
	}
	if src != "" {
		if err := w.SetSource(src, seq(int(spec.Bands)), copy); err != nil {
			w.Abort()
			return err
		}
	}
	size := spec.DType.Size()
	for k, s := range writes {
		buf := subWindow(data, size, int(spec.Rows), int(spec.Cols), s.win, seq(int(spec.Bands)))
		for i := range buf {
			buf[i] ^= byte(k)
		}
		var mask []byte
		if s.mask != nil {
			mask = make([]byte, spec.Bands*s.win.Rows*s.win.Cols)
			for i := range mask {
				cell := int64(i) % (s.win.Rows * s.win.Cols)
				if s.mask(s.win.RowOff+cell/s.win.Cols, s.win.ColOff+cell%s.win.Cols) {
					mask[i] = 1
				}
			}
		}
		if err := w.WriteMasked(s.win, buf, mask); err != nil {
			w.Abort()
			return err
		}
	}
	return w.Close(nil)
}

func withStream(o COGOptions) COGOptions {
	o.Options = append(append([]string(nil), o.Options...), "STREAM=YES")
	return o
}

func grid(rows, cols, stepRows, stepCols int64) []streamWrite {
	var out []streamWrite
	for r := int64(0); r < rows; r += stepRows {
		for c := int64(0); c < cols; c += stepCols {
			out = append(out, streamWrite{win: raster.Window{RowOff: r, ColOff: c, Rows: min(stepRows, rows-r), Cols: min(stepCols, cols-c)}})
		}
	}
	return out
}

// A streamed writer's COG is what the staging writer makes of the same
// windows: the same file where both use cloudio's encoder, the same cells,
// masks and statistics where the staging writer leaves its mask to GDAL.
func TestStreamedTileWriterWritesWhatTheStagedOneWrites(t *testing.T) {
	const rows, cols = 1100, 1300
	dir := t.TempDir()
	masked, _ := maskedSource(t, filepath.Join(dir, "masked.tif"), raster.Float32, 1, rows, cols)
	hole := func(r, c int64) bool { return !(r > 200 && r < 400 && c > 100 && c < 900) && (r+c)%11 != 0 }
	ragged := []streamWrite{}
	for _, s := range grid(rows, cols, 300, 700) {
		ragged = append([]streamWrite{s}, ragged...) // bottom up, right to left
	}
	overlapping := []streamWrite{ // each overlaps an earlier one in tiles not yet complete
		{win: raster.Window{RowOff: 0, ColOff: 0, Rows: 600, Cols: 700}},
		{win: raster.Window{RowOff: 550, ColOff: 0, Rows: 550, Cols: 650}},
		{win: raster.Window{RowOff: 0, ColOff: 600, Rows: 600, Cols: 700}},
		{win: raster.Window{RowOff: 600, ColOff: 640, Rows: 500, Cols: 660}},
	}
	masks := grid(rows, cols, 512, 512)
	for i := range masks {
		masks[i].mask = hole
	}
	for _, c := range []struct {
		name   string
		dtype  raster.DType
		bands  int64
		nodata *float64
		opts   []string
		writes []streamWrite
		src    string
		copy   CopyFlags
	}{
		{name: "aligned tiles", dtype: raster.Float32, bands: 1, writes: grid(rows, cols, 512, 512)},
		{name: "ragged windows, reversed", dtype: raster.UInt16, bands: 3, writes: ragged},
		{name: "overlaps in incomplete tiles", dtype: raster.Int16, bands: 2, writes: overlapping, opts: []string{"OVERVIEW_RESAMPLING=NEAREST"}},
		{name: "gaps with nodata", dtype: raster.Float64, bands: 1, nodata: ptr(-9999), writes: grid(rows, cols, 512, 512)[3:5]},
		{name: "gaps without nodata", dtype: raster.Int8, bands: 1, writes: grid(rows, cols, 256, 1300)[1:3], opts: []string{"COMPRESS=ZSTD", "BLOCKSIZE=256"}},
		{name: "masked windows, nodata", dtype: raster.Float32, bands: 1, nodata: ptr(-1), writes: masks},
		{name: "masked windows, no nodata", dtype: raster.Float32, bands: 1, writes: masks},
		{name: "a source's mask", dtype: raster.Float32, bands: 1, writes: grid(rows, cols, 400, 400), src: masked, copy: CopyMask | CopyMetadata},
		{name: "no statistics, no overviews", dtype: raster.Byte, bands: 4, writes: grid(rows, cols, 1024, 1024), opts: []string{"STATISTICS=NO", "OVERVIEW_COUNT=0"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			data := cells(c.dtype, int(c.bands), rows, cols, 5)
			spec := WriterSpec{Rows: rows, Cols: cols, Bands: c.bands, DType: c.dtype, Georef: raster.Georef{NoData: noData(c.nodata)}}
			o := COGOptions{Options: c.opts}
			staged, streamed := filepath.Join(t.TempDir(), "staged.tif"), filepath.Join(t.TempDir(), "streamed.tif")
			if err := writeSequence(staged, data, spec, o, c.src, c.copy, c.writes); err != nil {
				t.Fatal(err)
			}
			if err := writeSequence(streamed, data, spec, withStream(o), c.src, c.copy, c.writes); err != nil {
				t.Fatal(err)
			}
			validateCOG(t, streamed)
			if _, hasMask := readMask(t, staged); hasMask&gmfPerDataset == 0 {
				if !bytes.Equal(readFile(t, staged), readFile(t, streamed)) {
					t.Fatalf("the streamed COG differs from the staged one")
				}
				return
			}
			got, _, _, _, _ := gdalReadAll(t, streamed)
			want, _, _, _, _ := gdalReadAll(t, staged)
			if !bytes.Equal(got, want) {
				t.Errorf("cells differ")
			}
			if !bytes.Equal(gdalMasks(t, streamed, []int{1}), gdalMasks(t, staged, []int{1})) {
				t.Errorf("masks differ")
			}
			if got, want := metadataOf(t, streamed), metadataOf(t, staged); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("metadata %v, staged %v", got, want)
			}
			if got, want := levels(t, streamed), levels(t, staged); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("overview levels %v, staged %v", got, want)
			}
		})
	}
}

// A window into a tile already encoded fails the writer, which then
// leaves nothing; so does a mask that comes after unmasked tiles, and
// aborting.
func TestStreamedTileWriterRefusesWhatItCannotHonour(t *testing.T) {
	const rows, cols = 600, 700
	data := cells(raster.Float32, 1, rows, cols, 3)
	spec := WriterSpec{Rows: rows, Cols: cols, Bands: 1, DType: raster.Float32}
	all := func(r, c int64) bool { return r != c }
	for name, c := range map[string]struct {
		writes []streamWrite
		want   string
	}{
		"into an encoded tile": {[]streamWrite{{win: raster.Window{Rows: 512, Cols: 512}}, {win: raster.Window{RowOff: 500, ColOff: 500, Rows: 20, Cols: 20}}},
			"writes into tile (row 0, col 0) of the output, whose cells were all written and encoded already"},
		"a late mask": {[]streamWrite{{win: raster.Window{Rows: 512, Cols: 512}}, {win: raster.Window{RowOff: 512, Rows: 88, Cols: 700}, mask: all}},
			"tiles of the output were already encoded without a mask"},
	} {
		dir := t.TempDir()
		dst := filepath.Join(dir, "out.tif")
		err := writeSequence(dst, data, spec, withStream(COGOptions{}), "", 0, c.writes)
		wantStatus(t, err, raster.StatusInvalidArgument, name)
		if err != nil && !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v", name, err)
		}
		wantDir(t, dir)
	}
	dir := t.TempDir()
	w, err := CreateTileWriter(filepath.Join(dir, "out.tif"), spec, withStream(COGOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(raster.Window{Rows: 512, Cols: 700}, subWindow(data, 4, rows, cols, raster.Window{Rows: 512, Cols: 700}, []int{1})); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	wantDir(t, dir)
	if _, err := CreateTileWriter(filepath.Join(dir, "out.tif"), spec, COGOptions{Options: []string{"STREAM=maybe"}}); err == nil || !strings.Contains(err.Error(), `invalid value "maybe" for option STREAM`) {
		t.Errorf("STREAM=maybe: %v", err)
	}
	wantDir(t, dir)
}

// Where the encoder does not implement the options (LZW), STREAM=YES
// stages the windows as without it.
func TestStreamedTileWriterStagesWhatTheEncoderDoesNotWrite(t *testing.T) {
	const rows, cols = 300, 400
	data := cells(raster.Float32, 1, rows, cols, 3)
	spec := WriterSpec{Rows: rows, Cols: cols, Bands: 1, DType: raster.Float32}
	writes := []streamWrite{{win: raster.Window{Rows: rows, Cols: cols}}, {win: raster.Window{RowOff: 10, ColOff: 10, Rows: 20, Cols: 20}}}
	dst := filepath.Join(t.TempDir(), "out.tif")
	if err := writeSequence(dst, data, spec, withStream(COGOptions{Compress: "LZW"}), "", 0, writes); err != nil {
		t.Fatal(err)
	}
	validateCOG(t, dst)
}
