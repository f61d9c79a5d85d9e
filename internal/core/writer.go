package core

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/airbusgeo/godal"
)

// WriterSpec describes the raster a TileWriter produces.
type WriterSpec struct {
	Rows, Cols, Bands int64
	DType             DType
	Georef            Georef
}

// TileWriter accepts windows in any order from any goroutine and produces a
// COG at Close. Windows go into a tiled, ZSTD-compressed staging GeoTIFF
// beside the destination (GDAL compresses its blocks on all cores as they
// are flushed); Close runs the COG driver over it, which adds overviews, and
// publishes the result atomically. A writer that fails or is aborted leaves
// nothing at the destination.
type TileWriter struct {
	spec    WriterSpec
	cog     []Option
	out     *atomicOutput
	staging string

	mu     sync.Mutex // the staging handle is not thread-safe
	h      *godal.Dataset
	done   bool
	failed error
}

// stagingOptions favour speed: the staging file is read once, by the COG
// driver, and then removed.
var stagingOptions = []string{"TILED=YES", "BLOCKXSIZE=512", "BLOCKYSIZE=512", "COMPRESS=ZSTD", "ZSTD_LEVEL=1",
	"NUM_THREADS=ALL_CPUS", "BIGTIFF=IF_SAFER", "SPARSE_OK=YES"}

// CreateTileWriter checks everything a COG write needs up front, so that
// bad options fail before any tile is computed.
func CreateTileWriter(dst string, spec WriterSpec, o COGOptions) (*TileWriter, error) {
	Init()
	dst, err := outputName("destination", dst)
	if err != nil {
		return nil, err
	}
	if err := checkDType(spec.DType); err != nil {
		return nil, err
	}
	if _, err := (ReadSpec{DType: spec.DType}).resolve(Info{DType: spec.DType, Bands: 1}); err != nil {
		return nil, err
	}
	if spec.Rows <= 0 || spec.Cols <= 0 || spec.Bands <= 0 || spec.Rows > MaxRasterSide || spec.Cols > MaxRasterSide || spec.Bands > 65535 {
		return nil, errorf(StatusInvalidArgument, "raster shape bands=%d rows=%d cols=%d is out of range", spec.Bands, spec.Rows, spec.Cols)
	}
	if spec.Georef, o.Options, err = takeNoDataOption(spec.Georef, o.Options); err != nil {
		return nil, err
	}
	if nd := spec.Georef.NoData; nd != nil {
		if err := nd.In(spec.DType); err != nil {
			return nil, err
		}
	}
	cog, err := COGCreationOptions(o.Compress, spec.DType, spec.Bands, o.Options)
	if err != nil {
		return nil, err
	}
	wkt, err := crsWKT(spec.Georef.CRS)
	if err != nil {
		return nil, err
	}
	out, err := newAtomicOutput(dst)
	if err != nil {
		return nil, err
	}
	staging := out.tmp + ".staging.tif"
	if isVSI(out.tmp) {
		staging = filepath.Join(os.TempDir(), filepath.Base(out.tmp)+".staging.tif")
	}
	var ge gdalErrors
	options := stagingOptions
	if spec.DType.gdal() != spec.DType {
		options = append(options[:len(options):len(options)], "PIXELTYPE=SIGNEDBYTE") // Int8 before GDAL 3.7
	}
	h, err := godal.Create(godal.GTiff, staging, int(spec.Bands), godal.DataType(spec.DType.gdal()), int(spec.Cols), int(spec.Rows),
		godal.CreationOption(options...), godal.ErrLogger(ge.handler()))
	if err != nil {
		return nil, out.friendly(ge.err(fmt.Sprintf("cannot create the staging file for %q", dst), StatusIO))
	}
	w := &TileWriter{spec: spec, cog: cog, out: out, staging: staging, h: h}
	if err := w.setGeoref(wkt); err != nil {
		w.Abort()
		return nil, err
	}
	return w, nil
}

func crsWKT(crs string) (string, error) {
	if crs == "" {
		return "", nil
	}
	if _, err := strconv.ParseUint(crs, 10, 32); err == nil {
		crs = "EPSG:" + crs // OSRSetFromUserInput takes no bare codes
	}
	sr, err := godal.NewSpatialRef(crs)
	if err != nil {
		return "", errorf(StatusInvalidArgument, "crs %q is not a coordinate reference system GDAL understands: %v", crs, err)
	}
	defer sr.Close()
	wkt, err := sr.WKT()
	if err != nil {
		return "", errorf(StatusInvalidArgument, "crs %q cannot be written as WKT: %v", crs, err)
	}
	return wkt, nil
}

func (w *TileWriter) setGeoref(wkt string) error { return setGeoref(w.h, w.spec.Georef, wkt) }

// setGeoref gives h the geotransform and nodata of g and the crs wkt.
func setGeoref(h *godal.Dataset, g Georef, wkt string) error {
	var ge gdalErrors
	if g.GeoTransform != nil && h.SetGeoTransform(*g.GeoTransform, godal.ErrLogger(ge.handler())) != nil {
		return ge.err("cannot set the geotransform", StatusInvalidArgument)
	}
	if wkt != "" && h.SetProjection(wkt, godal.ErrLogger(ge.handler())) != nil {
		return ge.err("cannot set the crs", StatusInvalidArgument)
	}
	if g.NoData != nil && h.SetNoData(g.NoData.Float, godal.ErrLogger(ge.handler())) != nil { // 64-bit bands excluded: the double is exact
		return ge.err("cannot set the nodata value", StatusInvalidArgument)
	}
	return nil
}

// Write stores window win of every band from buf (band-sequential,
// row-major, the writer's data type).
func (w *TileWriter) Write(win Window, buf []byte) error {
	info := Info{Rows: w.spec.Rows, Cols: w.spec.Cols}
	if err := info.CheckWindow(win); err != nil {
		return err
	}
	spec := ReadSpec{DType: w.spec.DType, Bands: make([]int, w.spec.Bands)}
	if want := spec.BufferLen(win); int64(len(buf)) != want {
		return errorf(StatusInvalidArgument, "buffer holds %d bytes, but window (row_off=%d, col_off=%d, n_rows=%d, n_cols=%d) needs %d (%d bands of %s)",
			len(buf), win.RowOff, win.ColOff, win.Rows, win.Cols, want, w.spec.Bands, w.spec.DType)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return err
	}
	var ge gdalErrors
	if err := w.h.Write(int(win.ColOff), int(win.RowOff), typedSlice(buf, w.spec.DType.gdal()), int(win.Cols), int(win.Rows),
		godal.BandInterleaved(), godal.ErrLogger(ge.handler())); err != nil {
		w.failed = ge.err(fmt.Sprintf("cannot write window (row_off=%d, col_off=%d, n_rows=%d, n_cols=%d) of %q", win.RowOff, win.ColOff, win.Rows, win.Cols, w.out.dst), StatusIO)
		return w.failed
	}
	return nil
}

func (w *TileWriter) usable() error {
	if w.done {
		return errorf(StatusInvalidArgument, "writer is closed")
	}
	return w.failed
}

// Close finishes the COG and publishes it at the destination. On failure,
// nothing is left there. Closing twice is an error.
func (w *TileWriter) Close(progress ProgressFunc) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		if w.failed != nil && !w.done {
			w.discard()
		}
		return err
	}
	w.done = true
	var ge gdalErrors
	if err := w.h.Close(godal.ErrLogger(ge.handler())); err != nil {
		w.h = nil
		w.discard()
		return w.out.friendly(ge.err(fmt.Sprintf("cannot flush the staging file of %q", w.out.dst), StatusIO))
	}
	w.h = nil
	err := translateToCOG(w.staging, nil, w.out.tmp, w.cog, 0, progress)
	os.Remove(w.staging)
	if err != nil {
		w.out.discard()
		return w.out.friendly(err)
	}
	return w.out.commit()
}

// Abort discards everything written. Aborting a closed writer is an error.
func (w *TileWriter) Abort() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return errorf(StatusInvalidArgument, "writer is already closed")
	}
	w.discard()
	return nil
}

func (w *TileWriter) discard() {
	w.done = true
	if w.h != nil {
		w.h.Close(godal.ErrLogger(ignoreErrors))
		w.h = nil
	}
	os.Remove(w.staging)
	w.out.discard()
}
