package core

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airbusgeo/godal"

	"github.com/cloudio-dem/cloudio/internal/gdalc"
	"github.com/cloudio-dem/cloudio/internal/raster"
)

// mixedVRT stacks single-band rasters of the given types (cells of band i
// are values(i)) into a VRT.
func mixedVRT(t *testing.T, dir string, rows, cols int, types []raster.DType, values func(band int, cell int) float64) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, `<VRTDataset rasterXSize="%d" rasterYSize="%d">`, cols, rows)
	for i, dt := range types {
		var data []byte // godal writes no 64-bit integers: those bands stay 0
		if dt != raster.Int64 && dt != raster.UInt64 {
			data = make([]byte, rows*cols*dt.Size())
			for k := 0; k < rows*cols; k++ {
				dt.SetCell(data, k, values(i, k))
			}
		}
		path := gtiff(t, filepath.Join(dir, fmt.Sprintf("band%d.tif", i+1)), dt, 1, rows, cols, data)
		fmt.Fprintf(&b, `<VRTRasterBand dataType="%s" band="%d"><SimpleSource><SourceFilename>%s</SourceFilename><SourceBand>1</SourceBand></SimpleSource></VRTRasterBand>`,
			dt, i+1, path)
	}
	b.WriteString("</VRTDataset>")
	vrt := filepath.Join(dir, "mixed.vrt")
	if err := os.WriteFile(vrt, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return vrt
}

// Bands of different types read each with its own values: the buffer is of
// the narrowest type that holds them all (Byte and Float32: Float32), and
// one band alone is of its own type; types no one buffer type holds are an
// error, never values cast to band 1's type.
func TestBandsOfDifferentTypes(t *testing.T) {
	const rows, cols = 30, 40
	value := func(band, cell int) float64 {
		if band == 0 {
			return float64(cell % 250)
		}
		return 1000000.5 + float64(cell)
	}
	vrt := mixedVRT(t, t.TempDir(), rows, cols, []raster.DType{raster.Byte, raster.Float32}, value)
	ds, err := OpenDataset(vrt)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	if ds.Info().DType != raster.Float32 {
		t.Fatalf("the raster's type: %s, want Float32", ds.Info().DType)
	}
	w := raster.Window{Rows: rows, Cols: cols}
	for _, c := range []struct {
		bands []int
		dtype raster.DType
	}{{nil, raster.Float32}, {[]int{2}, raster.Float32}, {[]int{1}, raster.Byte}, {[]int{2, 1}, raster.Float32}} {
		spec, err := raster.ReadSpec{Bands: c.bands}.Resolve(ds.Info())
		if err != nil || spec.DType != c.dtype {
			t.Fatalf("bands %v: type %s (%v), want %s", c.bands, spec.DType, err, c.dtype)
		}
		buf := make([]byte, spec.BufferLen(w))
		if err := ds.ReadWindow(w, spec, buf); err != nil {
			t.Fatal(err)
		}
		for i, b := range spec.Bands {
			for k := 0; k < rows*cols; k++ {
				if got, want := spec.DType.Cell(buf, i*rows*cols+k), float32(value(b-1, k)); got != float64(want) {
					t.Fatalf("bands %v: band %d cell %d reads %v, want %v", c.bands, b, k, got, want)
				}
			}
		}
	}
	// A COG of it keeps both bands' values, in the type that holds them.
	cog := tmpPath(t, "mixed.tif")
	if err := WriteCOG(vrt, cog, COGOptions{}); err != nil {
		t.Fatal(err)
	}
	if f := facts(t, cog); f.dtype != raster.Float32 {
		t.Fatalf("the COG's type: %s", f.dtype)
	}
	got := gdalRead(t, cog, w, []int{1, 2}, raster.Float32)
	for k := 0; k < 2*rows*cols; k++ {
		if want := float32(value(k/(rows*cols), k%(rows*cols))); raster.Float32.Cell(got, k) != float64(want) {
			t.Fatalf("the COG's cell %d is %v, want %v", k, raster.Float32.Cell(got, k), want)
		}
	}

	huge := mixedVRT(t, t.TempDir(), rows, cols, []raster.DType{raster.Int64, raster.Byte}, func(int, int) float64 { return 1 })
	ds2, err := OpenDataset(huge)
	if err != nil {
		t.Fatal(err)
	}
	defer ds2.Close()
	err = ds2.ReadWindow(w, raster.ReadSpec{}, make([]byte, 2*rows*cols*8))
	wantStatus(t, err, raster.StatusUnsupported, "Int64 and Byte bands")
}

// A signed-byte raster (GDAL 3.6: Byte with PIXELTYPE=SIGNEDBYTE) reads as
// Int8, converts to other types with its sign, and every writer writes Int8
// as signed bytes.
func TestSignedBytes(t *testing.T) {
	const rows, cols = 40, 50
	data := make([]byte, rows*cols)
	for k := range data {
		data[k] = byte(int8(k%256 - 128))
	}
	for _, opts := range [][]string{{"PIXELTYPE=SIGNEDBYTE"}, {"PIXELTYPE=SIGNEDBYTE", "COMPRESS=LZW"}} { // direct, and through GDAL
		path := gtiff(t, tmpPath(t, "i8.tif"), raster.Byte, 1, rows, cols, data, opts...)
		ds, err := OpenDataset(path)
		if err != nil {
			t.Fatal(err)
		}
		if ds.Info().DType != raster.Int8 {
			t.Fatalf("%v: type %s, want Int8", opts, ds.Info().DType)
		}
		w := raster.Window{Rows: rows, Cols: cols}
		own := make([]byte, rows*cols)
		if err := ds.ReadWindow(w, raster.ReadSpec{}, own); err != nil || !bytes.Equal(own, data) {
			t.Fatalf("%v: Int8 read: %v", opts, err)
		}
		f32 := make([]byte, 4*rows*cols)
		if err := ds.ReadWindow(w, raster.ReadSpec{DType: raster.Float32}, f32); err != nil {
			t.Fatal(err)
		}
		for k := 0; k < rows*cols; k++ {
			if got, want := raster.Float32.Cell(f32, k), float64(int8(data[k])); got != want {
				t.Fatalf("%v: cell %d as Float32 is %v, want %v", opts, k, got, want)
			}
		}
		ds.Close()
	}
	signedCOG := func(path string) {
		t.Helper()
		h, err := godal.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		if bandType(h.Bands()[0]) != raster.Int8 {
			t.Fatalf("%s is not of signed bytes", path)
		}
		validateCOG(t, path)
		if got := gdalRead(t, path, raster.Window{Rows: rows, Cols: cols}, []int{1}, raster.Int8); !bytes.Equal(got, data) {
			t.Fatalf("%s: cells differ", path)
		}
	}
	src := gtiff(t, tmpPath(t, "src.tif"), raster.Byte, 1, rows, cols, data, "PIXELTYPE=SIGNEDBYTE")
	fromFile := tmpPath(t, "file.tif")
	if err := WriteCOG(src, fromFile, COGOptions{}); err != nil {
		t.Fatal(err)
	}
	signedCOG(fromFile)
	fromBuffer := tmpPath(t, "buffer.tif")
	if err := WriteCOGBuffer(data, raster.Int8, 1, rows, cols, raster.Georef{}, fromBuffer, COGOptions{}); err != nil {
		t.Fatal(err)
	}
	signedCOG(fromBuffer)
	fromWriter := tmpPath(t, "writer.tif")
	w, err := CreateTileWriter(fromWriter, WriterSpec{Rows: rows, Cols: cols, Bands: 1, DType: raster.Int8}, COGOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(raster.Window{Rows: rows, Cols: cols}, data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(nil); err != nil {
		t.Fatal(err)
	}
	signedCOG(fromWriter)
	if !gdalc.HasInt8() {
		err := WriteZarrBuffer(data, raster.Int8, 1, rows, cols, raster.Georef{}, tmpPath(t, "i8.zarr"), ZarrOptions{})
		wantStatus(t, err, raster.StatusUnsupported, "Int8 to Zarr on GDAL 3.6")
	}
	if raster.Int8.Convert(-300) != math.MinInt8 || raster.Int8.Convert(127.4) != 127 {
		t.Fatal("Int8 conversion does not clamp")
	}
}

// Nodata must be a value of the band's type, exactly, for every writer:
// 300 is no Byte, 1e40 and 0.1 no Float32, 1.5 no Int16.
func TestNoDataMustBeExact(t *testing.T) {
	const rows, cols = 8, 9
	for _, c := range []struct {
		dtype  raster.DType
		nodata float64
	}{{raster.Byte, 300}, {raster.Byte, -1}, {raster.Float32, 1e40}, {raster.Float32, 0.1}, {raster.Int16, 1.5}, {raster.Int16, math.NaN()}, {raster.UInt32, math.Inf(1)}, {raster.Int8, 128}} {
		data := make([]byte, rows*cols*c.dtype.Size())
		g := raster.Georef{NoData: noData(&c.nodata)}
		for what, err := range map[string]error{
			"cog buffer":  WriteCOGBuffer(data, c.dtype, 1, rows, cols, g, tmpPath(t, "n.tif"), COGOptions{}),
			"zarr buffer": WriteZarrBuffer(data, c.dtype, 1, rows, cols, g, tmpPath(t, "n.zarr"), ZarrOptions{}),
			"tile writer": func() error {
				_, err := CreateTileWriter(tmpPath(t, "w.tif"), WriterSpec{Rows: rows, Cols: cols, Bands: 1, DType: c.dtype, Georef: g}, COGOptions{})
				return err
			}(),
		} {
			if c.dtype == raster.Int8 && what == "zarr buffer" {
				continue // no Int8 Zarr on GDAL 3.6 at all
			}
			if raster.StatusOf(err) != raster.StatusInvalidArgument || !strings.Contains(err.Error(), "is not a "+c.dtype.String()+" value") {
				t.Errorf("%s: nodata %v for %s: got %v (%v)", what, c.nodata, c.dtype, raster.StatusOf(err), err)
			}
		}
	}
}

// 64-bit integer nodata stays exact end to end: given as text (the NODATA
// option, for what a double cannot carry), written with GDAL's
// SetNoDataValueAsInt64 / AsUInt64, read back with their getters.
func TestNoData64BitExact(t *testing.T) {
	const rows, cols = 8, 9
	for _, c := range []struct {
		dtype raster.DType
		text  string
	}{{raster.UInt64, "18446744073709551615"}, {raster.Int64, "9223372036854775807"}, {raster.Int64, "9007199254740993"}, {raster.Int64, "-9223372036854775808"}} {
		data := cells(c.dtype, 1, rows, cols, 1)
		path := tmpPath(t, "n64.tif")
		if err := WriteCOGBuffer(data, c.dtype, 1, rows, cols, raster.Georef{}, path, COGOptions{Options: []string{"NODATA=" + c.text}}); err != nil {
			t.Fatal(err)
		}
		ds, err := OpenDataset(path)
		if err != nil {
			t.Fatal(err)
		}
		nd, ok := ds.NoData(1)
		ds.Close()
		if !ok || nd.String() != c.text {
			t.Errorf("%s nodata %s read back as %s (%v)", c.dtype, c.text, nd, ok)
		}
	}
	// A double cannot carry 2^63 - 1 (it becomes 2^63, out of Int64's range).
	big := float64(math.MaxInt64)
	err := WriteCOGBuffer(cells(raster.Int64, 1, rows, cols, 1), raster.Int64, 1, rows, cols, raster.Georef{NoData: noData(&big)}, tmpPath(t, "x.tif"), COGOptions{})
	wantStatus(t, err, raster.StatusInvalidArgument, "2^63 as an Int64 nodata")
	nd := -9999.0
	err = WriteCOGBuffer(cells(raster.Int16, 1, rows, cols, 1), raster.Int16, 1, rows, cols, raster.Georef{NoData: noData(&nd)}, tmpPath(t, "x.tif"), COGOptions{Options: []string{"nodata=-1"}})
	wantStatus(t, err, raster.StatusInvalidArgument, "nodata given twice, differently")
	for text, want := range map[string]string{"-9999": "-9999", " 1e3 ": "1000", "nan": "nan", "-inf": "-Inf", "0.5": "0.5"} {
		if nd, err := raster.ParseNoData(text); err != nil || nd.String() != want {
			t.Errorf("ParseNoData(%q) = %v, %v; want %s", text, nd, err, want)
		}
	}
	if _, err := raster.ParseNoData("twelve"); raster.StatusOf(err) != raster.StatusInvalidArgument {
		t.Errorf("ParseNoData(twelve): %v", err)
	}
}
