package core

import (
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloudio-dem/cloudio/internal/raster"
)

func TestDescribe(t *testing.T) {
	dir := t.TempDir()
	gt := [6]float64{500000, 30, 0, 4200000, 0, -30}
	nd := math.NaN()
	src := makeRaster(t, filepath.Join(dir, "src.tif"), rasterSpec{dtype: raster.Float32, bands: 2, rows: 700, cols: 600, gt: &gt,
		crs: "EPSG:32633", nodata: &nd, options: []string{"TILED=YES"}}, cells(raster.Float32, 2, 700, 600, 1))
	runTool(t, "gdal_edit.py", "-units", "m", "-setstats", "1", "2", "1.5", "0.25", "-mo", "OVR_RESAMPLING_ALG=AVERAGE", src)
	cog := filepath.Join(dir, "cog.tif")
	runTool(t, "gdal_translate", "-q", "-of", "COG", "-co", "BLOCKSIZE=256", "-co", "COMPRESS=DEFLATE", "-co", "PREDICTOR=YES", src, cog)

	d, err := Describe(cog)
	if err != nil {
		t.Fatal(err)
	}
	if d.Driver != "GTiff" || d.Rows != 700 || d.Cols != 600 || d.Bands != 2 || d.DType != "float32" || *d.GeoTransform != [6]Number{500000, 30, 0, 4200000, 0, -30} ||
		d.CRS == nil || d.CRS.EPSG == nil || *d.CRS.EPSG != 32633 || !strings.Contains(d.CRS.WKT, "UTM zone 33N") ||
		d.NoData == nil || !math.IsNaN(float64(*d.NoData)) || d.Block != [2]int64{256, 256} ||
		len(d.Overviews) != 2 || d.Overviews[0] != [2]int64{350, 300} || *d.Compress != "DEFLATE" || *d.Predictor != 3 ||
		*d.OverviewResampling != "average" || !d.COG {
		t.Fatalf("%+v", d)
	}
	b := d.BandInfo[0]
	if b.Unit != "m" || b.ColorInterp != "Gray" || b.Mask != nil || b.Statistics == nil || *b.Statistics.Mean != 1.5 ||
		*b.Statistics.StdDev != 0.25 || *b.Statistics.ValidPercent != 100 || d.BandInfo[1].Unit != "m" {
		t.Fatalf("band 1: %+v, statistics %+v", b, b.Statistics)
	}
	text, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(text), `"nodata":"NaN"`) {
		t.Errorf("NaN is gdalinfo's string in JSON: %s", text)
	}

	plain, err := Describe(makeRaster(t, filepath.Join(dir, "plain.tif"), rasterSpec{dtype: raster.Byte, bands: 1, rows: 1500, cols: 1500}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if plain.COG || plain.GeoTransform != nil || plain.CRS != nil || plain.NoData != nil || plain.Compress != nil ||
		plain.Predictor != nil || plain.OverviewResampling != nil || len(plain.Overviews) != 0 || plain.DType != "uint8" {
		t.Errorf("a plain striped GeoTIFF: %+v", plain)
	}
	png := filepath.Join(dir, "x.png")
	runTool(t, "gdal_translate", "-q", "-of", "PNG", "-outsize", "10", "10", filepath.Join(dir, "plain.tif"), png)
	if d, err := Describe(png); err != nil || d.Driver != "PNG" || d.COG {
		t.Errorf("a PNG: %+v, %v", d, err)
	}
	_, err = Describe(filepath.Join(dir, "missing.tif"))
	wantStatus(t, err, raster.StatusNotFound, "a missing file")
}
