package tiff_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/airbusgeo/godal"

	"github.com/cloudio-dem/cloudio/internal/tiff"
)

// python is Debian's interpreter, which sees python3-gdal.
const python = "/usr/bin/python3"

// cogCase is one COG written both by GDAL's COG driver and by the encoder.
type cogCase struct {
	name        string
	typ         string // GDAL's data type name
	w, h, bands int
	options     []string // COG creation options, for both
	nodata      string
	mask        bool
	interp      []string
	colortable  [][4]int
	metadata    map[string]string
	pattern     string // "dem", "random", "classes", "float32"
	holes       bool   // nodata (and NaN) patches
	memory      bool   // encode into a MemorySink (else a FileSink)
}

var kindsByName = map[string]struct {
	format, bits int
}{"Byte": {tiff.SampleUint, 8}, "UInt16": {tiff.SampleUint, 16}, "Int16": {tiff.SampleInt, 16},
	"UInt32": {tiff.SampleUint, 32}, "Int32": {tiff.SampleInt, 32}, "UInt64": {tiff.SampleUint, 64},
	"Int64": {tiff.SampleInt, 64}, "Float32": {tiff.SampleFloat, 32}, "Float64": {tiff.SampleFloat, 64}}

// cells makes the case's raster, pixel interleaved, and its mask.
func (c *cogCase) cells() ([]byte, []byte) {
	k := kindsByName[c.typ]
	size := k.bits / 8
	rng := rand.New(rand.NewSource(int64(len(c.name)) * 7919))
	out := make([]byte, c.w*c.h*c.bands*size)
	spread := map[string]float64{"Float32": 1e6, "Float64": 1e9}[c.typ] // of random floats
	for y := 0; y < c.h; y++ {
		for x := 0; x < c.w; x++ {
			for b := 0; b < c.bands; b++ {
				var v float64
				switch c.pattern {
				case "dem":
					v = 1000 + 300*math.Sin(float64(x)/37+float64(b)) + 200*math.Cos(float64(y)/23) + rng.Float64()*3
				case "classes":
					v = float64((x/9 + y/13 + b) % 8)
				case "float32":
					// values that GDAL 3.6's nearest overviews of 32- and
					// 64-bit samples keep (it copies them through float32
					// and rounds them adding 0.5 in float32)
					v = float64(rng.Intn(1<<22)) * math.Pow(2, float64(rng.Intn(30)))
				default:
					v = rng.Float64()
				}
				if c.pattern == "float32" {
					putText(out[((y*c.w+x)*c.bands+b)*size:], c.typ, fmt.Sprint(int64(v)))
					continue
				}
				put(out[((y*c.w+x)*c.bands+b)*size:], c.typ, v, rng, spread)
			}
		}
	}
	if c.holes {
		nd := c.nodata
		for i := 0; i < 12; i++ {
			x0, y0 := rng.Intn(c.w), rng.Intn(c.h)
			for y := y0; y < min(c.h, y0+1+rng.Intn(15)); y++ {
				for x := x0; x < min(c.w, x0+1+rng.Intn(15)); x++ {
					for b := 0; b < c.bands; b++ {
						at := out[((y*c.w+x)*c.bands+b)*size:]
						switch {
						case i%3 == 2 && strings.HasPrefix(c.typ, "Float"):
							putFloat(at, c.typ, math.NaN())
						case nd != "":
							putText(at, c.typ, nd)
						}
					}
				}
			}
		}
	}
	var mask []byte
	if c.mask {
		mask = make([]byte, c.w*c.h)
		for y := 0; y < c.h; y++ {
			for x := 0; x < c.w; x++ {
				if (x/11+y/7)%5 != 0 && rng.Intn(20) != 0 {
					mask[y*c.w+x] = 255
				}
			}
		}
	}
	return out, mask
}

// put stores v as typ: v in [0, 1) asks for a random cell (any bits for
// an integer, within spread for a float), under 8 for a class kept as it
// is, otherwise for an elevation scaled into the type's range.
func put(b []byte, typ string, v float64, rng *rand.Rand, spread float64) {
	if strings.HasPrefix(typ, "Float") {
		if v < 1 {
			v = (2*rng.Float64() - 1) * spread
		}
		putFloat(b, typ, v)
		return
	}
	size := kindsByName[typ].bits / 8
	switch {
	case v < 1:
		rng.Read(b[:size])
	case v < 8:
		putInt(b, size, int64(v))
	default:
		scale := map[string][2]float64{"Byte": {255.0 / 1300, 0}, "UInt16": {10, 0}, "Int16": {10, -7000}, "UInt32": {1e5, 0},
			"Int32": {1e5, -5e7}, "UInt64": {1e9, 0}, "Int64": {1e9, -5e11}}[typ]
		putInt(b, size, int64(v*scale[0]+scale[1]))
	}
}

// putInt stores the low size bytes of v, little-endian.
func putInt(b []byte, size int, v int64) {
	for i := 0; i < size; i++ {
		b[i] = byte(v >> (8 * i))
	}
}

func putFloat(b []byte, typ string, v float64) {
	if typ == "Float32" {
		binary.LittleEndian.PutUint32(b, math.Float32bits(float32(v)))
	} else {
		binary.LittleEndian.PutUint64(b, math.Float64bits(v))
	}
}

func putText(b []byte, typ, text string) {
	if strings.HasPrefix(typ, "Float") {
		f, _ := strconv.ParseFloat(text, 64)
		putFloat(b, typ, f)
		return
	}
	i, _ := strconv.ParseInt(text, 10, 64)
	putInt(b, kindsByName[typ].bits/8, i)
}

func (c *cogCase) job() map[string]any {
	j := map[string]any{"width": c.w, "height": c.h, "bands": c.bands, "type": c.typ, "options": c.options,
		"geotransform": []float64{500000, 30, 0, 4000000, 0, -30}, "epsg": 32633, "mask": c.mask,
		"interp": c.interp, "metadata": c.metadata, "description": "band"}
	if c.nodata != "" {
		j["nodata"] = c.nodata
	}
	if c.colortable != nil {
		j["colortable"] = c.colortable
	}
	return j
}

// runGDAL runs testdata/gdalref.py on the jobs in dirs.
func runGDAL(t *testing.T, what string, dirs []string) {
	t.Helper()
	list := filepath.Join(t.TempDir(), what+".json")
	b, _ := json.Marshal(dirs)
	if err := os.WriteFile(list, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(python, "testdata/gdalref.py", what, list).CombinedOutput()
	if err != nil {
		t.Fatalf("gdalref.py %s: %v\n%s", what, err, out)
	}
}

// template is the tags GDAL writes for the source: a 1 x 1 GeoTIFF copy
// of it, made by GDAL, read by the package's parser.
func template(t *testing.T, dir string) tiff.Tags {
	t.Helper()
	src, err := godal.Open(filepath.Join(dir, "src.tif"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	name := filepath.Join(dir, "template.tif")
	tmpl, err := src.Translate(name, []string{"-of", "GTiff", "-srcwin", "0", "0", "1", "1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := tmpl.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	f, err := tiff.Open(tiff.Bytes(b), tiff.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	tags, err := tiff.TemplateTags(f)
	if err != nil {
		t.Fatal(err)
	}
	return tags
}

// encode writes the case's COG with the encoder: tiles cut from the
// cells, handed over from several goroutines in a random order.
func encode(t *testing.T, c *cogCase, dir string, pix, mask []byte, tags tiff.Tags) {
	t.Helper()
	k := kindsByName[c.typ]
	cfg := tiff.Config{Width: int64(c.w), Height: int64(c.h), Bands: c.bands, SampleFormat: k.format,
		BitsPerSample: k.bits, Mask: c.mask, Tags: tags}
	if err := cfg.ApplyCOGOptions(c.options); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "ours.tif")
	var sink tiff.Sink
	mem := &tiff.MemorySink{}
	if c.memory {
		sink = mem
	} else {
		fs, err := tiff.CreateFileSink(path)
		if err != nil {
			t.Fatal(err)
		}
		sink = fs
	}
	e, err := tiff.NewEncoder(context.Background(), cfg, sink)
	if err != nil {
		t.Fatal(err)
	}
	across, down := e.Grid()
	bs := cfg.BlockSize
	px := c.bands * k.bits / 8
	order := rand.New(rand.NewSource(int64(c.w))).Perm(int(across * down))
	jobs := make(chan int)
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				tx, ty := i%int(across), i/int(across)
				tile := make([]byte, e.TileLen())
				var tmask []byte
				if mask != nil {
					tmask = make([]byte, bs*bs)
				}
				for y := 0; y < bs && ty*bs+y < c.h; y++ {
					n := min(bs, c.w-tx*bs)
					from := (ty*bs+y)*c.w + tx*bs
					copy(tile[y*bs*px:], pix[from*px:(from+n)*px])
					if mask != nil {
						copy(tmask[y*bs:], mask[from:from+n])
					}
				}
				if err := e.WriteTile(int64(tx), int64(ty), tile, tmask); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for _, i := range order {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := e.Finish(); err != nil {
		t.Fatal(err)
	}
	if c.memory {
		if err := os.WriteFile(path, mem.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// bandSequential reorders pixel-interleaved cells as GDAL's dumps are.
func bandSequential(pix []byte, bands, size int) []byte {
	if bands == 1 {
		return pix
	}
	cells := len(pix) / (bands * size)
	out := make([]byte, len(pix))
	for i := 0; i < cells; i++ {
		for b := 0; b < bands; b++ {
			copy(out[(b*cells+i)*size:(b*cells+i+1)*size], pix[(i*bands+b)*size:])
		}
	}
	return out
}

// differ describes how two dumps of samples differ.
func differ(a, b []byte, typ string) string {
	if len(a) != len(b) {
		return fmt.Sprintf("%d bytes against %d", len(a), len(b))
	}
	size := kindsByName[typ].bits / 8
	n, first := 0, -1
	for i := 0; i < len(a); i += size {
		if !bytes.Equal(a[i:i+size], b[i:i+size]) {
			if first < 0 {
				first = i / size
			}
			n++
		}
	}
	return fmt.Sprintf("%d of %d samples differ, the first at sample %d", n, len(a)/size, first)
}

// structure is a COG's IFDs without block offsets and byte counts.
func structure(t *testing.T, path string) ([]string, int64) {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := tiff.Open(tiff.Bytes(b), tiff.DefaultLimits)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []string
	for _, d := range f.IFDs {
		s := fmt.Sprintf("IFD at %d:", d.Offset)
		for _, e := range d.Entries {
			s += fmt.Sprintf(" %d/%d/%d", e.Tag, e.Type, e.Count)
			if e.Tag == tiff.TagTileOffsets || e.Tag == tiff.TagTileByteCounts {
				continue
			}
			if v, err := f.Uints(e, 0, e.Count); err == nil {
				s += fmt.Sprint(v)
			} else if v, err := f.Floats(e); err == nil {
				s += fmt.Sprint(v)
			} else if v, err := f.ASCII(e); err == nil {
				s += fmt.Sprintf("%q", v)
			}
		}
		out = append(out, s)
	}
	return out, int64(len(b))
}

var cogCases = []cogCase{
	{name: "byte-nearest", typ: "Byte", w: 700, h: 500, bands: 1, pattern: "classes", memory: true,
		options: []string{"COMPRESS=DEFLATE", "BLOCKSIZE=128", "OVERVIEW_RESAMPLING=NEAREST"}},
	{name: "byte-rgb-average", typ: "Byte", w: 613, h: 419, bands: 3, pattern: "random", interp: []string{"RedBand", "GreenBand", "BlueBand"},
		options: []string{"COMPRESS=DEFLATE", "PREDICTOR=YES", "BLOCKSIZE=128", "OVERVIEW_RESAMPLING=AVERAGE"}},
	{name: "byte-rgba-zstd", typ: "Byte", w: 515, h: 515, bands: 4, pattern: "dem", interp: []string{"RedBand", "GreenBand", "BlueBand", "AlphaBand"},
		options: []string{"COMPRESS=ZSTD", "BLOCKSIZE=128", "OVERVIEW_RESAMPLING=AVERAGE"}},
	{name: "byte-rgba-nodata", typ: "Byte", w: 389, h: 277, bands: 4, pattern: "random", interp: []string{"RedBand", "GreenBand", "BlueBand", "AlphaBand"},
		nodata: "7", holes: true, options: []string{"COMPRESS=DEFLATE", "BLOCKSIZE=128", "OVERVIEW_RESAMPLING=AVERAGE"}},
	{name: "uint16-gray-alpha", typ: "UInt16", w: 277, h: 389, bands: 2, pattern: "random", interp: []string{"GrayIndex", "AlphaBand"},
		memory: true, options: []string{"COMPRESS=DEFLATE", "BLOCKSIZE=128", "OVERVIEW_RESAMPLING=AVERAGE"}},
	{name: "byte-palette", typ: "Byte", w: 400, h: 333, bands: 1, pattern: "classes", memory: true,
		colortable: [][4]int{{0, 0, 0, 255}, {255, 0, 0, 255}, {0, 255, 0, 255}, {0, 0, 255, 255}, {9, 9, 9, 0}},
		options:    []string{"COMPRESS=DEFLATE", "BLOCKSIZE=128"}},
	{name: "byte-mask-average", typ: "Byte", w: 701, h: 389, bands: 1, pattern: "random", mask: true,
		options: []string{"COMPRESS=DEFLATE", "BLOCKSIZE=128", "OVERVIEW_RESAMPLING=AVERAGE"}},
	{name: "byte-2-nodata", typ: "Byte", w: 299, h: 531, bands: 2, pattern: "classes", nodata: "5", holes: true, memory: true,
		options: []string{"COMPRESS=DEFLATE", "BLOCKSIZE=128", "OVERVIEW_RESAMPLING=AVERAGE"}},
	{name: "uint16-nodata-zstd", typ: "UInt16", w: 640, h: 480, bands: 1, pattern: "dem", nodata: "0", holes: true,
		options: []string{"COMPRESS=ZSTD", "PREDICTOR=2", "BLOCKSIZE=128", "OVERVIEW_RESAMPLING=AVERAGE"}},
	{name: "uint16-3-mask-nearest", typ: "UInt16", w: 333, h: 444, bands: 3, pattern: "random", mask: true, memory: true,
		options: []string{"COMPRESS=DEFLATE", "BLOCKSIZE=128", "OVERVIEW_RESAMPLING=NEAREST"}},
	{name: "int16-nodata", typ: "Int16", w: 577, h: 401, bands: 1, pattern: "dem", nodata: "-9999", holes: true, memory: true,
		options: []string{"COMPRESS=DEFLATE", "PREDICTOR=2", "BLOCKSIZE=128", "OVERVIEW_RESAMPLING=AVERAGE"}},
	{name: "int16-2-none", typ: "Int16", w: 300, h: 300, bands: 2, pattern: "random", memory: true,
		options: []string{"COMPRESS=NONE", "BLOCKSIZE=128", "OVERVIEW_RESAMPLING=AVERAGE"}},
	{name: "int16-even", typ: "Int16", w: 1028, h: 516, bands: 1, pattern: "random", memory: true,
		options: []string{"COMPRESS=DEFLATE", "BLOCKSIZE=256", "OVERVIEW_RESAMPLING=AVERAGE"}},
	{name: "uint32-average", typ: "UInt32", w: 450, h: 390, bands: 1, pattern: "random",
		options: []string{"COMPRESS=DEFLATE", "BLOCKSIZE=128", "OVERVIEW_RESAMPLING=AVERAGE"}},
	{name: "int32-nodata-zstd", typ: "Int32", w: 390, h: 450, bands: 1, pattern: "dem", nodata: "-1", holes: true,
		options: []string{"COMPRESS=ZSTD", "PREDICTOR=2", "BLOCKSIZE=128", "OVERVIEW_RESAMPLING=AVERAGE"}},
	{name: "uint64-nearest", typ: "UInt64", w: 300, h: 260, bands: 1, pattern: "float32", memory: true,
		options: []string{"COMPRESS=DEFLATE", "PREDICTOR=2", "BLOCKSIZE=128", "OVERVIEW_RESAMPLING=NEAREST"}},
	{name: "int64-average-nodata", typ: "Int64", w: 260, h: 300, bands: 2, pattern: "dem", nodata: "-9999", holes: true,
		options: []string{"COMPRESS=ZSTD", "BLOCKSIZE=128", "OVERVIEW_RESAMPLING=AVERAGE"}},
	{name: "float32-dem", typ: "Float32", w: 1001, h: 777, bands: 1, pattern: "dem", memory: true,
		metadata: map[string]string{"AREA_OR_POINT": "Area", "SOURCE": "fractal"},
		options:  []string{"COMPRESS=DEFLATE", "PREDICTOR=FLOATING_POINT", "BLOCKSIZE=256", "OVERVIEW_RESAMPLING=AVERAGE"}},
	{name: "float32-holes-zstd", typ: "Float32", w: 700, h: 640, bands: 1, pattern: "dem", nodata: "-9999", holes: true,
		options: []string{"COMPRESS=ZSTD", "PREDICTOR=3", "BLOCKSIZE=128", "OVERVIEW_RESAMPLING=AVERAGE"}},
	{name: "float32-nan-nodata", typ: "Float32", w: 531, h: 299, bands: 1, pattern: "dem", nodata: "nan", holes: true, memory: true,
		options: []string{"COMPRESS=DEFLATE", "PREDICTOR=3", "BLOCKSIZE=128", "OVERVIEW_RESAMPLING=AVERAGE"}},
	{name: "float32-mask", typ: "Float32", w: 389, h: 701, bands: 1, pattern: "dem", mask: true, holes: true,
		options: []string{"COMPRESS=DEFLATE", "BLOCKSIZE=128", "OVERVIEW_RESAMPLING=AVERAGE"}},
	{name: "float32-2-nearest-none", typ: "Float32", w: 333, h: 222, bands: 2, pattern: "random", memory: true,
		options: []string{"COMPRESS=NONE", "BLOCKSIZE=128", "OVERVIEW_RESAMPLING=NEAREST"}},
	{name: "float32-even", typ: "Float32", w: 2052, h: 1030, bands: 1, pattern: "dem", memory: true,
		options: []string{"COMPRESS=DEFLATE", "PREDICTOR=3", "OVERVIEW_RESAMPLING=AVERAGE"}},
	{name: "float32-predictor2", typ: "Float32", w: 300, h: 300, bands: 1, pattern: "dem", memory: true,
		options: []string{"COMPRESS=DEFLATE", "PREDICTOR=2", "BLOCKSIZE=128", "OVERVIEW_RESAMPLING=AVERAGE"}},
	{name: "float64-dem", typ: "Float64", w: 517, h: 389, bands: 1, pattern: "dem", memory: true,
		options: []string{"COMPRESS=DEFLATE", "PREDICTOR=3", "BLOCKSIZE=128", "OVERVIEW_RESAMPLING=AVERAGE"}},
	{name: "float64-4-nodata", typ: "Float64", w: 300, h: 290, bands: 4, pattern: "random", nodata: "-3.4028234663852886e+38", holes: true,
		options: []string{"COMPRESS=ZSTD", "LEVEL=3", "BLOCKSIZE=128", "OVERVIEW_RESAMPLING=AVERAGE"}},
	{name: "bigtiff", typ: "Byte", w: 300, h: 300, bands: 1, pattern: "random", mask: true, memory: true,
		options: []string{"COMPRESS=DEFLATE", "BIGTIFF=YES", "BLOCKSIZE=128", "OVERVIEW_RESAMPLING=NEAREST"}},
	{name: "one-overview", typ: "UInt16", w: 600, h: 300, bands: 1, pattern: "dem", memory: true,
		options: []string{"COMPRESS=DEFLATE", "LEVEL=9", "BLOCKSIZE=128", "OVERVIEW_COUNT=1", "OVERVIEW_RESAMPLING=AVERAGE"}},
	{name: "no-overviews", typ: "Float32", w: 100, h: 80, bands: 1, pattern: "dem", memory: true,
		options: []string{"COMPRESS=DEFLATE", "PREDICTOR=3"}},
	{name: "block-400", typ: "Byte", w: 900, h: 850, bands: 1, pattern: "random", memory: true,
		options: []string{"COMPRESS=DEFLATE", "BLOCKSIZE=400", "OVERVIEW_RESAMPLING=AVERAGE"}},
}

// TestEncoderMatchesGDAL writes every case with GDAL's COG driver and with
// the encoder, and compares them through GDAL: the validator passes, the
// full resolution is the source, every overview and mask is GDAL's cell
// for cell, metadata reads back the same, the IFDs are GDAL's (but for
// where blocks are) and the file is at most 2% larger than GDAL's (byte
// for byte GDAL's for a DEFLATE or uncompressed COG kept in memory).
func TestEncoderMatchesGDAL(t *testing.T) {
	root := t.TempDir()
	var dirs []string
	cells := map[string][2][]byte{}
	for i := range cogCases {
		c := &cogCases[i]
		dir := filepath.Join(root, c.name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		pix, mask := c.cells()
		cells[c.name] = [2][]byte{pix, mask}
		b, _ := json.Marshal(c.job())
		for name, data := range map[string][]byte{"job.json": b, "src.raw": pix, "mask.raw": mask} {
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		dirs = append(dirs, dir)
	}
	runGDAL(t, "make", dirs)
	for i := range cogCases {
		c := &cogCases[i]
		dir := dirs[i]
		encode(t, c, dir, cells[c.name][0], cells[c.name][1], template(t, dir))
	}
	runGDAL(t, "check", dirs)
	for i := range cogCases {
		c := &cogCases[i]
		t.Run(c.name, func(t *testing.T) { compareWithGDAL(t, c, dirs[i], cells[c.name][0]) })
	}
}

func compareWithGDAL(t *testing.T, c *cogCase, dir string, pix []byte) {
	var got map[string]map[string]any
	b, err := os.ReadFile(filepath.Join(dir, "check.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	ours, gdal := got["ours"], got["gdal"]
	if errs := ours["errors"].([]any); len(errs) > 0 {
		t.Errorf("GDAL's COG validator: %v", errs)
	}
	if w := ours["warnings"].([]any); len(w) > 0 {
		t.Errorf("GDAL's COG validator warns: %v", w)
	}
	for _, key := range []string{"levels", "geotransform", "crs", "metadata", "mask_flags", "interp", "nodata", "descriptions", "colortable"} {
		if !reflect.DeepEqual(ours[key], gdal[key]) {
			t.Errorf("%s: ours %v, GDAL's %v", key, ours[key], gdal[key])
		}
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	size := kindsByName[c.typ].bits / 8
	if full := read("ours.0.bin"); !bytes.Equal(full, bandSequential(pix, c.bands, size)) {
		t.Errorf("full resolution read back through GDAL is not the source: %s", differ(full, bandSequential(pix, c.bands, size), c.typ))
	}
	for k := range ours["levels"].([]any) {
		for _, ext := range []string{"bin", "mask"} {
			a, g := read(fmt.Sprintf("ours.%d.%s", k, ext)), read(fmt.Sprintf("gdal.%d.%s", k, ext))
			if !bytes.Equal(a, g) {
				typ := c.typ
				if ext == "mask" {
					typ = "Byte"
				}
				t.Errorf("level %d %s differs from GDAL's: %s", k, ext, differ(a, g, typ))
			}
		}
	}
	so, oursLen := structure(t, filepath.Join(dir, "ours.tif"))
	sg, gdalLen := structure(t, filepath.Join(dir, "gdal.tif"))
	if !reflect.DeepEqual(so, sg) {
		t.Errorf("IFDs differ:\nours  %v\nGDAL's %v", so, sg)
	}
	if oursLen > gdalLen+gdalLen/50 {
		t.Errorf("ours has %d bytes, more than 2%% over GDAL's %d", oursLen, gdalLen)
	}
	if c.memory && !strings.Contains(strings.Join(c.options, " "), "ZSTD") {
		if !bytes.Equal(read("ours.tif"), read("gdal.tif")) {
			t.Errorf("ours is not byte for byte GDAL's")
		}
	}
	t.Logf("%d bytes, GDAL's %d", oursLen, gdalLen)
}

// TestNearestKeepsEveryValue: nearest overviews hold the cells of the
// level above, whatever their values. GDAL 3.6.2 copies 32- and 64-bit
// integers through float32 (its overview work type) and rounds them back
// adding 0.5 in float32, so that a UInt32 code of 11769793 becomes
// 11769794 in its overview; the encoder keeps it.
func TestNearestKeepsEveryValue(t *testing.T) {
	c := cogCase{name: "uint32-nearest-exact", typ: "UInt32", w: 300, h: 200, bands: 1, pattern: "random",
		options: []string{"COMPRESS=DEFLATE", "BLOCKSIZE=128", "OVERVIEW_RESAMPLING=NEAREST"}}
	dir := t.TempDir()
	pix, _ := c.cells()
	b, _ := json.Marshal(c.job())
	for name, data := range map[string][]byte{"job.json": b, "src.raw": pix} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	runGDAL(t, "make", []string{dir})
	encode(t, &c, dir, pix, nil, template(t, dir))
	level := make([]uint32, c.w*c.h)
	for i := range level {
		level[i] = binary.LittleEndian.Uint32(pix[4*i:])
	}
	w, h := c.w, c.h
	changed := 0
	ours, err := godal.Open(filepath.Join(dir, "ours.tif"))
	if err != nil {
		t.Fatal(err)
	}
	defer ours.Close()
	gdal, err := godal.Open(filepath.Join(dir, "gdal.tif"))
	if err != nil {
		t.Fatal(err)
	}
	defer gdal.Close()
	for k, ovr := range ours.Bands()[0].Overviews() {
		ow, oh := ovr.Structure().SizeX, ovr.Structure().SizeY
		want := make([]uint32, ow*oh)
		for i := 0; i < oh; i++ {
			for j := 0; j < ow; j++ {
				want[i*ow+j] = level[int(0.5+float64(i)*float64(h)/float64(oh))*w+int(0.5+float64(j)*float64(w)/float64(ow))]
			}
		}
		got, theirs := make([]uint32, ow*oh), make([]uint32, ow*oh)
		if err := ovr.Read(0, 0, got, ow, oh); err != nil {
			t.Fatal(err)
		}
		if err := gdal.Bands()[0].Overviews()[k].Read(0, 0, theirs, ow, oh); err != nil {
			t.Fatal(err)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("overview %d cell %d is %d, not the %d above it", k, i, got[i], want[i])
			}
			if theirs[i] != want[i] {
				changed++
			}
		}
		level, w, h = want, ow, oh
	}
	t.Logf("GDAL 3.6's nearest overviews changed %d cells", changed)
}
