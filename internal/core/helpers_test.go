package core

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/airbusgeo/godal"
)

// cells makes bands x rows x cols values of dtype, smooth plus noise, as
// native-order bytes.
func cells(dtype DType, bands, rows, cols int, seed int64) []byte {
	rng := rand.New(rand.NewSource(seed))
	var buf bytes.Buffer
	for b := 0; b < bands; b++ {
		for r := 0; r < rows; r++ {
			for c := 0; c < cols; c++ {
				v := 100 + 60*math.Sin(float64(c)/13+float64(b))*math.Cos(float64(r)/7) + rng.Float64()*4
				switch dtype {
				case Byte:
					buf.WriteByte(byte(v))
				case UInt16:
					binary.Write(&buf, binary.LittleEndian, uint16(v*100))
				case Int16:
					binary.Write(&buf, binary.LittleEndian, int16(v*10-500))
				case UInt32:
					binary.Write(&buf, binary.LittleEndian, uint32(v*1e5))
				case Int32:
					binary.Write(&buf, binary.LittleEndian, int32(v*1e4-2e6))
				case Float32:
					binary.Write(&buf, binary.LittleEndian, float32(v))
				case Float64:
					binary.Write(&buf, binary.LittleEndian, v)
				}
			}
		}
	}
	return buf.Bytes()
}

// gtiff writes a GeoTIFF with GDAL's GTiff driver and creation options.
func gtiff(t testing.TB, path string, dtype DType, bands, rows, cols int, data []byte, options ...string) string {
	t.Helper()
	ds, err := godal.Create(godal.GTiff, path, bands, godal.DataType(dtype), cols, rows, godal.CreationOption(options...))
	if err != nil {
		t.Fatal(err)
	}
	if err := ds.SetGeoTransform([6]float64{1000, 2, 0, 5000, 0, -2}); err != nil {
		t.Fatal(err)
	}
	if err := ds.Write(0, 0, typedSlice(data, dtype), cols, rows, godal.BandInterleaved()); err != nil {
		t.Fatal(err)
	}
	if err := ds.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// gdalRead reads a window through godal alone.
func gdalRead(t testing.TB, path string, w Window, bands []int, dtype DType) []byte {
	t.Helper()
	ds, err := godal.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	buf := make([]byte, int64(len(bands))*w.Rows*w.Cols*int64(dtype.Size()))
	zero := make([]int, len(bands))
	for i, b := range bands {
		zero[i] = b - 1
	}
	if err := ds.Read(int(w.ColOff), int(w.RowOff), typedSlice(buf, dtype), int(w.Cols), int(w.Rows), godal.Bands(zero...), godal.BandInterleaved()); err != nil {
		t.Fatal(err)
	}
	return buf
}

func validateCOG(t testing.TB, path string) {
	t.Helper()
	out, err := exec.Command("/usr/bin/python3", "-m", "osgeo_utils.samples.validate_cloud_optimized_geotiff", path).CombinedOutput()
	if err != nil {
		t.Fatalf("%s is not a valid COG: %v\n%s", path, err, out)
	}
}

func listDir(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func tmpPath(t testing.TB, name string) string { return filepath.Join(t.TempDir(), name) }

func TestMain(m *testing.M) {
	Init()
	os.Exit(m.Run())
}
