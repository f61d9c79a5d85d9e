package core

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/airbusgeo/godal"

	"github.com/cloudio-dem/cloudio/internal/raster"
	"github.com/cloudio-dem/cloudio/internal/tiff"
)

// gdalVerdict is what GDAL's own validator (validate_cloud_optimized_geotiff,
// with its full check) says of a file.
type gdalVerdict struct {
	Errors    []string `json:"errors"`
	Warnings  []string `json:"warnings"`
	Exception string   `json:"exception"`
}

const gdalValidatorScript = `
import json, sys
from osgeo_utils.samples.validate_cloud_optimized_geotiff import validate, ValidateCloudOptimizedGeoTIFFException
out = {}
for path in sys.argv[1:]:
    try:
        warnings, errors, _ = validate(path, full_check=True)
        out[path] = {"errors": errors, "warnings": warnings}
    except ValidateCloudOptimizedGeoTIFFException as exc:
        out[path] = {"exception": str(exc)}
print(json.dumps(out))
`

func gdalVerdicts(t *testing.T, paths []string) map[string]gdalVerdict {
	t.Helper()
	out, err := exec.Command("/usr/bin/python3", append([]string{"-c", gdalValidatorScript}, paths...)...).Output()
	if err != nil {
		t.Fatalf("GDAL's validator: %v", err)
	}
	verdicts := map[string]gdalVerdict{}
	if err := json.Unmarshal(out, &verdicts); err != nil {
		t.Fatalf("GDAL's validator printed %q: %v", out, err)
	}
	return verdicts
}

// runTool runs a GDAL command-line tool, failing the test on error.
func runTool(t *testing.T, tool string, args ...string) {
	t.Helper()
	if out, err := exec.Command(tool, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", tool, strings.Join(args, " "), err, out)
	}
}

// patch overwrites the bytes at off of the file at path.
func patch(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// layout parses a fixture with the tiff package.
func layout(t *testing.T, path string) (*tiff.File, []byte) {
	t.Helper()
	data := readFile(t, path)
	f, err := tiff.Open(tiff.Bytes(data), tiff.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	return f, data
}

// firstBlocks returns the spans of the first two blocks of IFD i.
func firstBlocks(t *testing.T, f *tiff.File, i int) []tiff.Span {
	t.Helper()
	im, err := f.Image(i)
	if err != nil {
		t.Fatal(err)
	}
	spans, err := im.Spans(0, 0, 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	return spans
}

// swapFirstBlocks exchanges the offsets and byte counts of the first two
// blocks of IFD i: both stay intact, but out of row-major order.
func swapFirstBlocks(t *testing.T, path string, i int) {
	t.Helper()
	f, _ := layout(t, path)
	for _, tag := range []uint16{tiff.TagTileOffsets, tiff.TagTileByteCounts} {
		e, _ := f.IFDs[i].Entry(tag)
		size := int64(tiff.TypeSize(e.Type))
		v, err := f.Uints(e, 0, 2)
		if err != nil {
			t.Fatal(err)
		}
		for k, value := range []uint64{v[1], v[0]} {
			b := make([]byte, 8)
			f.Order.PutUint64(b, value)
			if size == 4 {
				f.Order.PutUint32(b, uint32(value))
			}
			patch(t, path, e.Offset+int64(k)*size, b[:size])
		}
	}
}

// validationCorpus writes good and deliberately broken files, each made by
// GDAL's own drivers and tools and some edited byte by byte after.
func validationCorpus(t *testing.T) map[string]string {
	dir := t.TempDir()
	at := func(name string) string { return filepath.Join(dir, name) }
	src := gtiff(t, at("src.tif"), raster.Float32, 1, 900, 1100, cells(raster.Float32, 1, 900, 1100, 1))
	wide := gtiff(t, at("wide.tif"), raster.Byte, 1, 300, 1500, cells(raster.Byte, 1, 300, 1500, 2))
	files := map[string]string{}
	cog := func(name, from string, co ...string) string {
		args := []string{"-q", "-of", "COG", from, at(name)}
		for _, o := range co {
			args = append(args, "-co", o)
		}
		runTool(t, "gdal_translate", args...)
		files[name] = at(name)
		return at(name)
	}
	copyOf := func(name, from string) string {
		if err := os.WriteFile(at(name), readFile(t, from), 0o644); err != nil {
			t.Fatal(err)
		}
		files[name] = at(name)
		return at(name)
	}

	good := cog("cog.tif", src, "BLOCKSIZE=256")
	cog("bigtiff.tif", src, "BIGTIFF=YES", "BLOCKSIZE=256")
	cog("small.tif", gtiff(t, at("small-src.tif"), raster.Int16, 2, 200, 300, cells(raster.Int16, 2, 200, 300, 3)))
	cog("separate.tif", gtiff(t, at("rgb.tif"), raster.Byte, 3, 700, 800, cells(raster.Byte, 3, 700, 800, 4)), "INTERLEAVE=BAND")

	masked := at("masked-src.tif")
	runTool(t, "gdal_translate", "-q", "-b", "1", "-mask", "1", "-co", "TILED=YES", src, masked)
	cog("mask.tif", masked, "BLOCKSIZE=256")

	runTool(t, "gdal_translate", "-q", wide, at("strips.tif"))
	files["strips.tif"] = at("strips.tif")
	runTool(t, "gdal_translate", "-q", "-co", "TILED=YES", src, at("tiled.tif"))
	files["tiled.tif"] = at("tiled.tif")

	runTool(t, "gdaladdo", "-q", copyOf("overviews-after-data.tif", at("tiled.tif")), "2", "4")
	runTool(t, "gdaladdo", "-q", copyOf("overviews-increasing.tif", at("tiled.tif")), "4", "2")
	runTool(t, "gdaladdo", "-q", "-ro", copyOf("external-ovr.tif", at("tiled.tif")), "2")

	// Editing a file in place moves its IFD to the end (and a COG declares
	// the edit in its ghost header).
	for name, from := range map[string]string{"edited-gtiff.tif": at("tiled.tif"), "edited-cog.tif": good} {
		ds, err := godal.Open(copyOf(name, from), godal.Update())
		if err != nil {
			t.Fatal(err)
		}
		if err := ds.SetMetadata("EDITED", "YES"); err != nil {
			t.Fatal(err)
		}
		if err := ds.Close(godal.ErrLogger(quietWarnings)); err != nil {
			t.Fatal(err)
		}
	}

	f, data := layout(t, good)
	block := firstBlocks(t, f, 0)[0]
	patch(t, copyOf("bad-leader.tif", good), int64(block.Off)-4, []byte{1, 2, 3, 4})
	patch(t, copyOf("bad-trailer.tif", good), int64(block.Off+block.N), []byte{1, 2, 3, 4})
	swapFirstBlocks(t, copyOf("blocks-out-of-order.tif", good), 0)
	incompatible := bytes.Replace(data, []byte("KNOWN_INCOMPATIBLE_EDITION=NO\n"), []byte("KNOWN_INCOMPATIBLE_EDITION=YES"), 1)
	if bytes.Equal(incompatible, data) {
		t.Fatal("no KNOWN_INCOMPATIBLE_EDITION=NO in the ghost header")
	}
	if err := os.WriteFile(at("incompatible-edition.tif"), incompatible, 0o644); err != nil {
		t.Fatal(err)
	}
	files["incompatible-edition.tif"] = at("incompatible-edition.tif")
	size := strings.Index(string(data), "GDAL_STRUCTURAL_METADATA_SIZE=") + len("GDAL_STRUCTURAL_METADATA_SIZE=")
	patch(t, copyOf("ghost-size.tif", good), int64(size), []byte("000100"))

	mf, _ := layout(t, files["mask.tif"])
	maskBlock := firstBlocks(t, mf, 1)[0] // IFD 1: the mask of the full resolution
	patch(t, copyOf("bad-mask-leader.tif", files["mask.tif"]), int64(maskBlock.Off)-4, []byte{9, 9, 9, 9})
	swapFirstBlocks(t, copyOf("mask-out-of-place.tif", files["mask.tif"]), 1)

	runTool(t, "gdal_translate", "-q", "-of", "PNG", "-b", "1", wide, at("not-a-tiff.png"))
	files["not-a-tiff.png"] = at("not-a-tiff.png")
	return files
}

func TestValidateAgreesWithGDALsValidator(t *testing.T) {
	files := validationCorpus(t)
	var paths []string
	for _, p := range files {
		paths = append(paths, p)
	}
	want := gdalVerdicts(t, paths)
	invalid := 0
	for name, path := range files {
		got, err := Validate(path, FullCheckAuto)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		gdal := want[path]
		if gdal.Exception != "" {
			if got.Valid() || !strings.HasPrefix(got.Errors[0], gdal.Exception) {
				t.Errorf("%s: GDAL's validator refuses it (%q); cloudio says %q", name, gdal.Exception, got.Errors)
			}
			invalid++
			continue
		}
		if !reflect.DeepEqual(nonNil(got.Errors), nonNil(gdal.Errors)) || !reflect.DeepEqual(nonNil(got.Warnings), nonNil(gdal.Warnings)) {
			t.Errorf("%s:\n  cloudio errors %q, warnings %q\n  GDAL    errors %q, warnings %q", name, got.Errors, got.Warnings, gdal.Errors, gdal.Warnings)
		}
		if !got.Valid() {
			invalid++
		}
	}
	if valid := len(files) - invalid; valid < 6 || invalid < 12 {
		t.Errorf("the corpus should hold both kinds: %d valid, %d invalid", valid, invalid)
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Over HTTP the verdicts are the local ones; the byte-level checks run on
// remote files only when asked for, as with GDAL's validator.
func TestValidateRemote(t *testing.T) {
	files := validationCorpus(t)
	dir := filepath.Dir(files["cog.tif"])
	base := fetchServer(t, dir, nil)
	for _, name := range []string{"cog.tif", "mask.tif", "overviews-after-data.tif", "bad-trailer.tif", "blocks-out-of-order.tif", "strips.tif"} {
		local, err := Validate(files[name], FullCheckYes)
		if err != nil {
			t.Fatal(err)
		}
		remote, err := Validate(base+"/"+name, FullCheckYes)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(local, remote) {
			t.Errorf("%s: local %+v, remote %+v", name, local, remote)
		}
	}
	if v, err := Validate(base+"/bad-leader.tif", FullCheckAuto); err != nil || !v.Valid() {
		t.Errorf("a remote file is not checked byte by byte by default: %+v, %v", v, err)
	}
	_, err := Validate(base+"/missing.tif", FullCheckAuto)
	wantStatus(t, err, raster.StatusNotFound, "a missing URL")
}

func TestValidateOtherInputs(t *testing.T) {
	files := validationCorpus(t)
	dir := t.TempDir()

	_, err := Validate(filepath.Join(dir, "missing.tif"), FullCheckAuto)
	wantStatus(t, err, raster.StatusNotFound, "a missing file")
	_, err = Validate("", FullCheckAuto)
	wantStatus(t, err, raster.StatusInvalidArgument, "an empty name")

	if v, err := Validate(dir, FullCheckAuto); err != nil || v.Valid() || !strings.Contains(v.Errors[0], "directory") {
		t.Errorf("a directory: %+v, %v", v, err)
	}
	if v, err := Validate(files["bad-leader.tif"], FullCheckNo); err != nil || !v.Valid() {
		t.Errorf("without the full check, leader bytes are not read: %+v, %v", v, err)
	}

	// Damaged files are invalid, with the reason, never a crash.
	good := readFile(t, files["cog.tif"])
	f, _ := layout(t, files["cog.tif"])
	last := f.IFDs[len(f.IFDs)-1]
	for name, data := range map[string][]byte{
		"empty":           {},
		"header only":     good[:8],
		"cut in the IFDs": good[:last.Offset+4],
		"cut in the data": good[:len(good)/2],
		"IFD loops":       loopIFD(good, f),
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".tif")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		v, err, panicked := func() (v Validation, err error, panicked any) {
			defer func() { panicked = recover() }()
			v, err = Validate(path, FullCheckAuto)
			return
		}()
		if panicked != nil || err != nil || v.Valid() || !strings.HasPrefix(v.Errors[0], "The file is not a") {
			t.Errorf("%s: %+v, %v, panic %v", name, v, err, panicked)
		}
	}
}

// loopIFD points the last IFD of a file back at the first.
func loopIFD(data []byte, f *tiff.File) []byte {
	out := append([]byte(nil), data...)
	last := f.IFDs[len(f.IFDs)-1]
	next := last.Offset + last.Len - 4
	if f.BigTIFF {
		f.Order.PutUint64(out[last.Offset+last.Len-8:], uint64(f.FirstIFD))
	} else {
		f.Order.PutUint32(out[next:], uint32(f.FirstIFD))
	}
	return out
}
