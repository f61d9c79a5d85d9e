package core

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/airbusgeo/godal"

	"github.com/cloudio-dem/cloudio/internal/raster"
	"github.com/cloudio-dem/cloudio/internal/raster/rastertest"
)

// gdalMasks reads every band's GDAL mask of the whole raster, as 0 / 255,
// with godal alone.
func gdalMasks(t *testing.T, path string, bands []int) []byte {
	t.Helper()
	ds, err := godal.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	st := ds.Structure()
	var out []byte
	for _, b := range bands {
		m := make([]byte, st.SizeX*st.SizeY)
		if err := ds.Bands()[b-1].MaskBand().Read(0, 0, m, st.SizeX, st.SizeY); err != nil {
			t.Fatal(err)
		}
		for i, v := range m {
			if v != 0 {
				m[i] = 255
			}
		}
		out = append(out, m...)
	}
	return out
}

// With Masks, each tile's data is followed by its bands' GDAL masks (a
// per-dataset mask, nodata), padded as the data is: replicated, or masked
// beyond the raster with EdgeNoData. Direct and GDAL-decoded sources alike.
func TestTileReaderMasks(t *testing.T) {
	dir := t.TempDir()
	const rows, cols = 230, 310
	masked, _ := maskedSource(t, filepath.Join(dir, "masked.tif"), raster.Int16, 2, rows, cols)
	nodata := -9999.0
	withNoData := cells(raster.Float32, 1, rows, cols, 2)
	for i := 0; i < rows*cols; i += 13 {
		setCell(withNoData, raster.Float32, rows, cols, 0, i/cols, i%cols, nodata)
	}
	nd := makeRaster(t, filepath.Join(dir, "nodata.tif"), rasterSpec{dtype: raster.Float32, bands: 1, rows: rows, cols: cols, nodata: &nodata,
		options: []string{"TILED=YES", "BLOCKXSIZE=64", "BLOCKYSIZE=64", "COMPRESS=DEFLATE"}}, withNoData)
	for _, c := range []struct {
		path  string
		dtype raster.DType
		bands []int
		o     ReaderOptions
	}{
		{masked, raster.Int16, []int{1, 2}, ReaderOptions{TileRows: 64, TileCols: 100, Halo: 2}},
		{masked, raster.Int16, []int{2}, ReaderOptions{TileRows: 100, TileCols: 64, Halo: 3, Spec: raster.ReadSpec{Bands: []int{2}}, Workers: 1}},
		{nd, raster.Float32, []int{1}, ReaderOptions{TileRows: 50, TileCols: 77, Halo: 1, Edge: EdgeNoData}},
		{nd, raster.Float32, []int{1}, ReaderOptions{TileRows: 128, TileCols: 128}},
	} {
		t.Run(fmt.Sprintf("%s/%+v", filepath.Base(c.path), c.o), func(t *testing.T) {
			c.o.Masks = true
			data := gdalRead(t, c.path, raster.Window{RowOff: 0, ColOff: 0, Rows: rows, Cols: cols}, c.bands, c.dtype)
			masks := gdalMasks(t, c.path, c.bands)
			r, err := OpenTileReader(c.path, c.o)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			tiling, _ := raster.NewTiling(rows, cols, c.o.TileRows, c.o.TileCols, 0)
			var fill, maskFill []byte
			if c.o.Edge == EdgeNoData {
				fill, maskFill = rastertest.EncodeRef(c.dtype, nodata), []byte{0}
			}
			drain(t, r, tiling, c.o.Halo, func(tile Tile) []byte {
				out := clampedRead(data, c.dtype.Size(), len(c.bands), rows, cols, tile.Padded, fill)
				return append(out, clampedRead(masks, 1, len(c.bands), rows, cols, tile.Padded, maskFill)...)
			})
		})
	}
}
