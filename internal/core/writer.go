package core

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/airbusgeo/godal"

	"github.com/cloudio-dem/cloudio/internal/gdalc"
	"github.com/cloudio-dem/cloudio/internal/raster"
	"github.com/cloudio-dem/cloudio/internal/storage"
)

// WriterSpec describes the raster a TileWriter produces.
type WriterSpec struct {
	Rows, Cols, Bands int64
	DType             raster.DType
	Georef            raster.Georef
}

// TileWriter accepts windows in any order from any goroutine and produces a
// COG at Close. With the option STREAM=YES, where cloudio's encoder
// implements the options, tiles go to the encoder as soon as they are
// complete (see tileStream). Otherwise windows go into a tiled,
// ZSTD-compressed staging GeoTIFF beside the destination (GDAL compresses
// its blocks on all cores as they are flushed), which Close encodes; the
// result is published atomically. A writer that fails or is aborted leaves
// nothing at the destination.
//
// Bands are Undefined, as GDAL makes the bands of an in-memory raster,
// unless SetSource gives them the roles of the source's; the output has a
// mask when the source's is copied or a window is written with a mask and
// there is no nodata to mark its cells.
type TileWriter struct {
	spec    WriterSpec
	cog     []raster.Option
	out     *storage.AtomicOutput
	staging string
	stats   *windowStats // nil without statistics, or with a stream (which computes them)
	stream  *tileStream  // nil: windows go into the staging file

	mu        sync.Mutex // the staging handle is not thread-safe
	h         *godal.Dataset
	done      bool
	failed    error
	noData    []byte          // one cell of the nodata value, nil without one
	written   []raster.Window // windows written before the output had a mask
	writes    int
	copied    bool                // a source's metadata or mask was copied
	hasMask   bool                // the staging file has a per-dataset mask
	interps   []godal.ColorInterp // the output bands' roles
	rolesFrom string              // the source they are copied from
	maskFrom  *godal.Dataset      // the source whose mask windows without one get
	maskName  storage.Name        // ... and its name
}

// stagingOptions favour speed: the staging file is read once, by the COG
// driver, and then removed. MINISBLACK: GTiff would make 3 or 4 Byte bands
// RGB(A), and a 4th band an alpha band that masks cells.
var stagingOptions = []string{"TILED=YES", "BLOCKXSIZE=512", "BLOCKYSIZE=512", "COMPRESS=ZSTD", "ZSTD_LEVEL=1",
	"NUM_THREADS=ALL_CPUS", "BIGTIFF=IF_SAFER", "SPARSE_OK=YES", "PHOTOMETRIC=MINISBLACK"}

// CreateTileWriter checks everything a COG write needs up front, so that
// bad options fail before any tile is computed.
func CreateTileWriter(dst string, spec WriterSpec, o COGOptions) (*TileWriter, error) {
	gdalc.Init()
	o, withStats, err := statisticsOption(o)
	if err != nil {
		return nil, err
	}
	o, stream, err := streamOption(o)
	if err != nil {
		return nil, err
	}
	dst, err = storage.OutputName("destination", dst)
	if err != nil {
		return nil, err
	}
	if err := raster.CheckDType(spec.DType); err != nil {
		return nil, err
	}
	if err := raster.CheckBufferType(spec.DType); err != nil {
		return nil, err
	}
	if spec.Rows <= 0 || spec.Cols <= 0 || spec.Bands <= 0 || spec.Rows > raster.MaxRasterSide || spec.Cols > raster.MaxRasterSide || spec.Bands > 65535 {
		return nil, raster.Errorf(raster.StatusInvalidArgument, "raster shape bands=%d rows=%d cols=%d is out of range", spec.Bands, spec.Rows, spec.Cols)
	}
	if spec.Georef, o.Options, err = raster.TakeNoDataOption(spec.Georef, o.Options); err != nil {
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
	var noData []byte
	if nd := spec.Georef.NoData; nd != nil {
		if noData, err = raster.EncodeValue(spec.DType, nd.Float); err != nil {
			return nil, err
		}
	}
	wkt, err := crsWKT(spec.Georef.CRS)
	if err != nil {
		return nil, err
	}
	out, err := storage.NewAtomicOutput(dst)
	if err != nil {
		return nil, err
	}
	staging := out.Tmp + ".staging.tif"
	if storage.IsVSI(out.Tmp) {
		staging = filepath.Join(os.TempDir(), filepath.Base(out.Tmp)+".staging.tif")
	}
	var ge gdalErrors
	options := stagingOptions
	if gdalType(spec.DType) != spec.DType {
		options = append(options[:len(options):len(options)], "PIXELTYPE=SIGNEDBYTE") // Int8 before GDAL 3.7
	}
	h, err := godal.Create(godal.GTiff, staging, int(spec.Bands), godal.DataType(gdalType(spec.DType)), int(spec.Cols), int(spec.Rows),
		godal.CreationOption(options...), godal.ErrLogger(ge.handler()))
	if err != nil {
		return nil, out.Friendly(ge.Err(fmt.Sprintf("cannot create the staging file for %q", dst), raster.StatusIO))
	}
	w := &TileWriter{spec: spec, cog: cog, out: out, staging: staging, h: h, noData: noData}
	if stream {
		w.stream = newTileStream(spec, cog, out, noData, withStats)
	}
	if withStats && w.stream == nil {
		w.stats = newWindowStats(spec)
	}
	if err := w.setGeoref(wkt); err != nil {
		w.Abort()
		return nil, err
	}
	w.interps = make([]godal.ColorInterp, spec.Bands) // Undefined, as GDAL makes the bands of an in-memory raster
	return w, nil
}

// SetSource ties the writer to a raster its output is computed from, before
// the first write: the destination must not name it (checkNotSource); the
// output's bands take the colour interpretation of the source's bands
// (bands[i] is the source band of output band i; nil: the bands are not
// matched) and, as copy says, its metadata and its per-dataset mask (same
// size only). A writer computed from several rasters names each; only one
// may be copied from, and it gives the roles (else the first with bands).
func (w *TileWriter) SetSource(src string, bands []int, copy CopyFlags) error {
	n, err := storage.Resolve("source", src)
	if err != nil {
		return err
	}
	if err := storage.CheckNotSource(n.GDAL, w.out.Dst, "COG"); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	switch err := w.usable(); {
	case err != nil:
		return err
	case w.writes > 0:
		return raster.Errorf(raster.StatusInvalidArgument, "set the writer's source before its first write")
	case copy&^(CopyMetadata|CopyMask) != 0:
		return raster.Errorf(raster.StatusInvalidArgument, "unknown copy flags %#x (1 = metadata, 2 = mask)", int(copy))
	case copy != 0 && w.copied:
		return raster.Errorf(raster.StatusInvalidArgument, "only one source's metadata and mask can be copied")
	}
	ds, n, err := openResolved(n)
	if err != nil {
		return err
	}
	st := ds.Structure()
	if bands != nil && int64(len(bands)) != w.spec.Bands {
		ds.Close()
		return raster.Errorf(raster.StatusInvalidArgument, "%d source bands given for %d output bands", len(bands), w.spec.Bands)
	}
	for _, b := range bands {
		if b < 1 || b > st.NBands {
			ds.Close()
			return raster.Errorf(raster.StatusInvalidArgument, "band %d does not exist (%q has bands 1..%d)", b, src, st.NBands)
		}
	}
	if w.rolesFrom != "" && copy == 0 {
		ds.Close()
		return nil // the same-source rule only
	}
	var masked bool
	var interps []godal.ColorInterp
	storage.Pinned(n.Store, func() {
		interps, err = copyRasterInfo(ds, w.h, bands, copy, w.spec.DType)
		masked = copy&CopyMask != 0 && ds.Bands()[0].MaskFlags() == gmfPerDataset
	})
	if bands != nil && err == nil {
		w.interps, w.rolesFrom = interps, n.User
	}
	if err == nil && masked {
		if int64(st.SizeY) != w.spec.Rows || int64(st.SizeX) != w.spec.Cols {
			err = raster.Errorf(raster.StatusInvalidArgument, "the mask of %q (%d x %d) cannot be copied to a %d x %d output", src, st.SizeY, st.SizeX, w.spec.Rows, w.spec.Cols)
		} else if w.stream != nil {
			w.maskFrom, w.maskName, ds = ds, n, nil // the stream's tiles take it
		} else if err = w.addMask(); err == nil {
			w.maskFrom, w.maskName, ds = ds, n, nil
		}
	}
	if ds != nil {
		ds.Close()
	}
	w.copied = w.copied || (err == nil && copy != 0)
	return err
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
		return "", raster.Errorf(raster.StatusInvalidArgument, "crs %q is not a coordinate reference system GDAL understands: %v", crs, err)
	}
	defer sr.Close()
	wkt, err := sr.WKT()
	if err != nil {
		return "", raster.Errorf(raster.StatusInvalidArgument, "crs %q cannot be written as WKT: %v", crs, err)
	}
	return wkt, nil
}

func (w *TileWriter) setGeoref(wkt string) error { return setGeoref(w.h, w.spec.Georef, wkt) }

// setGeoref gives h the geotransform and nodata of g and the crs wkt.
func setGeoref(h *godal.Dataset, g raster.Georef, wkt string) error {
	var ge gdalErrors
	if g.GeoTransform != nil && h.SetGeoTransform(*g.GeoTransform, godal.ErrLogger(ge.handler())) != nil {
		return ge.Err("cannot set the geotransform", raster.StatusInvalidArgument)
	}
	if wkt != "" && h.SetProjection(wkt, godal.ErrLogger(ge.handler())) != nil {
		return ge.Err("cannot set the crs", raster.StatusInvalidArgument)
	}
	if g.NoData != nil && h.SetNoData(g.NoData.Float, godal.ErrLogger(ge.handler())) != nil { // 64-bit bands excluded: the double is exact
		return ge.Err("cannot set the nodata value", raster.StatusInvalidArgument)
	}
	return nil
}

// Write stores window win of every band from buf (band-sequential,
// row-major, the writer's data type).
func (w *TileWriter) Write(win raster.Window, buf []byte) error { return w.WriteMasked(win, buf, nil) }

// WriteMasked stores window win as Write does, with mask (nil, or one byte
// per cell of every band, band-sequential: 0 = masked) marking cells that
// hold no data: they are written as the nodata value when the writer has
// one, and the output gets a per-dataset mask when it has none (a cell is
// masked there when it is masked in every band, so the bands' masks must
// then agree). Windows written without a mask are valid in the output's
// mask, or have the source's when SetSource copies it.
func (w *TileWriter) WriteMasked(win raster.Window, buf, mask []byte) error {
	info := raster.Info{Rows: w.spec.Rows, Cols: w.spec.Cols}
	if err := info.CheckWindow(win); err != nil {
		return err
	}
	spec := raster.ReadSpec{DType: w.spec.DType, Bands: make([]int, w.spec.Bands)}
	if want := spec.BufferLen(win); int64(len(buf)) != want {
		return raster.Errorf(raster.StatusInvalidArgument, "buffer holds %d bytes, but window (row_off=%d, col_off=%d, n_rows=%d, n_cols=%d) needs %d (%d bands of %s)",
			len(buf), win.RowOff, win.ColOff, win.Rows, win.Cols, want, w.spec.Bands, w.spec.DType)
	}
	var datasetMask []byte
	if mask != nil {
		if cells := w.spec.Bands * win.Rows * win.Cols; int64(len(mask)) != cells {
			return raster.Errorf(raster.StatusInvalidArgument, "mask holds %d bytes, but window (row_off=%d, col_off=%d, n_rows=%d, n_cols=%d) needs %d (one per cell of %d bands)",
				len(mask), win.RowOff, win.ColOff, win.Rows, win.Cols, cells, w.spec.Bands)
		}
		var err error
		if buf, datasetMask, err = w.applyMask(win, buf, mask); err != nil {
			return err
		}
	}
	if w.stream != nil {
		return w.writeStreamed(win, buf, datasetMask)
	}
	if w.stats != nil {
		if (datasetMask != nil && w.noData == nil) || w.maskFrom != nil {
			w.stats.maskedOut() // the output's mask decides which cells count
		} else {
			w.stats.add(win, buf) // outside the lock: on the caller's core
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return err
	}
	w.writes++
	var ge gdalErrors
	if err := w.h.Write(int(win.ColOff), int(win.RowOff), typedSlice(buf, gdalType(w.spec.DType)), int(win.Cols), int(win.Rows),
		godal.BandInterleaved(), godal.ErrLogger(ge.handler())); err != nil {
		w.failed = ge.Err(fmt.Sprintf("cannot write window (row_off=%d, col_off=%d, n_rows=%d, n_cols=%d) of %q", win.RowOff, win.ColOff, win.Rows, win.Cols, w.out.Dst), raster.StatusIO)
		return w.failed
	}
	if datasetMask != nil && w.noData == nil && !w.hasMask {
		if w.failed = w.addMask(); w.failed != nil {
			return w.failed
		}
	}
	if !w.hasMask {
		w.written = append(w.written, win)
		return nil
	}
	w.failed = w.writeMask(win, datasetMask)
	return w.failed
}

// writeStreamed hands window win to the stream (mask as in writeMask, or
// nil when the writer's nodata marks the masked cells); any failure fails
// the writer, as the output can no longer be what was written.
func (w *TileWriter) writeStreamed(win raster.Window, buf, mask []byte) error {
	w.mu.Lock()
	if err := w.usable(); err != nil {
		w.mu.Unlock()
		return err
	}
	w.writes++
	var err error
	switch {
	case w.maskFrom != nil && mask == nil:
		mask, err = w.sourceMask(win)
	case w.maskFrom == nil && w.noData != nil:
		mask = nil
	}
	var complete []*tileCells
	if err == nil {
		complete, err = w.stream.write(win, buf, mask)
	}
	if err == nil && len(complete) > 0 && w.stream.run == nil {
		err = w.startStream()
	}
	if err != nil {
		w.failed = err
		w.mu.Unlock()
		return err
	}
	w.stream.sending.Add(1)
	w.mu.Unlock()
	defer w.stream.sending.Done()
	if err := w.stream.send(complete); err != nil {
		w.mu.Lock()
		if w.failed == nil {
			w.failed = err
		}
		w.mu.Unlock()
		return err
	}
	return nil
}

// startStream starts the stream's encoding, from the staging file, which
// holds only the output's georeferencing and what SetSource copied; w.mu is
// held.
func (w *TileWriter) startStream() error {
	if w.h != nil {
		var ge gdalErrors
		err := w.h.Close(godal.ErrLogger(ge.handler()))
		w.h = nil
		if err != nil {
			return ge.Err(fmt.Sprintf("cannot flush the staging file of %q", w.out.Dst), raster.StatusIO)
		}
	}
	return w.stream.start(w.staging, colorInterpArgs(w.interps), w.out)
}

// applyMask returns buf with the nodata value in its masked cells (a copy:
// the caller's buffer is left alone) when the writer has one, and the
// window's per-dataset mask: a cell is valid when it is valid in some band.
// Without nodata the bands' masks must agree, since the output has one mask
// for all of them.
func (w *TileWriter) applyMask(win raster.Window, buf, mask []byte) ([]byte, []byte, error) {
	cells, bands := int(win.Rows*win.Cols), int(w.spec.Bands)
	if w.noData != nil {
		size := w.spec.DType.Size()
		buf = append([]byte(nil), buf...)
		for i, m := range mask {
			if m == 0 {
				copy(buf[i*size:(i+1)*size], w.noData)
			}
		}
	}
	out := make([]byte, cells)
	for c := 0; c < cells; c++ {
		first := mask[c] != 0
		valid, agree := first, true
		for b := 1; b < bands; b++ {
			v := mask[b*cells+c] != 0
			valid, agree = valid || v, agree && v == first
		}
		if !agree && w.noData == nil {
			return nil, nil, raster.Errorf(raster.StatusInvalidArgument, "window (row_off=%d, col_off=%d, n_rows=%d, n_cols=%d) masks the bands differently, and an output without nodata has one mask for all bands: give it a nodata value",
				win.RowOff, win.ColOff, win.Rows, win.Cols)
		}
		if valid {
			out[c] = 255
		}
	}
	return buf, out, nil
}

// addMask gives the staging file its per-dataset mask, and the windows
// written so far theirs; w.mu is held.
func (w *TileWriter) addMask() error {
	var ge gdalErrors
	if _, err := w.h.CreateMaskBand(gmfPerDataset, godal.ConfigOption("GDAL_TIFF_INTERNAL_MASK=YES"), godal.ErrLogger(ge.handler())); err != nil {
		return ge.Err(fmt.Sprintf("cannot add a mask to the staging file of %q", w.out.Dst), raster.StatusIO)
	}
	w.hasMask = true
	for _, win := range w.written {
		if err := w.writeMask(win, nil); err != nil {
			return err
		}
	}
	w.written = nil
	return nil
}

// writeMask writes a window of the output's mask: mask, or the source's
// when SetSource copies it, or all valid.
func (w *TileWriter) writeMask(win raster.Window, mask []byte) error {
	if mask == nil {
		var err error
		if mask, err = w.sourceMask(win); err != nil {
			return err
		}
	}
	if mask == nil {
		mask = make([]byte, win.Rows*win.Cols)
		for i := range mask {
			mask[i] = 255
		}
	}
	var ge gdalErrors
	if err := w.h.Bands()[0].MaskBand().Write(int(win.ColOff), int(win.RowOff), mask, int(win.Cols), int(win.Rows), godal.ErrLogger(ge.handler())); err != nil {
		return ge.Err(fmt.Sprintf("cannot write the mask of window (row_off=%d, col_off=%d, n_rows=%d, n_cols=%d) of %q", win.RowOff, win.ColOff, win.Rows, win.Cols, w.out.Dst), raster.StatusIO)
	}
	return nil
}

// sourceMask is window win of the mask SetSource copies (nil without one).
func (w *TileWriter) sourceMask(win raster.Window) ([]byte, error) {
	if w.maskFrom == nil {
		return nil, nil
	}
	mask := make([]byte, win.Rows*win.Cols)
	var ge gdalErrors
	var err error
	storage.Pinned(w.maskName.Store, func() {
		err = w.maskFrom.Bands()[0].MaskBand().Read(int(win.ColOff), int(win.RowOff), mask, int(win.Cols), int(win.Rows), godal.ErrLogger(ge.handler()))
	})
	if err != nil {
		return nil, ge.Err(fmt.Sprintf("cannot read the mask of %q", w.maskName.GDAL), raster.StatusIO)
	}
	return mask, nil
}

func (w *TileWriter) usable() error {
	if w.done {
		return raster.Errorf(raster.StatusInvalidArgument, "writer is closed")
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
	if w.stream != nil {
		return w.closeStream(progress)
	}
	var ge gdalErrors
	if err := w.h.Close(godal.ErrLogger(ge.handler())); err != nil {
		w.h = nil
		w.discard()
		return w.out.Friendly(ge.Err(fmt.Sprintf("cannot flush the staging file of %q", w.out.Dst), raster.StatusIO))
	}
	w.h = nil
	w.releaseSource()
	err := w.writeCOG(progress)
	w.removeStaging()
	if err != nil {
		w.out.Discard()
		return w.out.Friendly(err)
	}
	return w.out.Commit()
}

// closeStream encodes what the stream has not and publishes the COG; w.mu
// is held.
func (w *TileWriter) closeStream(progress ProgressFunc) error {
	w.mu.Unlock() // the tiles being handed over fail the writer if they cannot be
	w.stream.sending.Wait()
	w.mu.Lock()
	err := w.failed
	if err == nil && w.stream.run == nil {
		err = w.startStream()
	}
	w.releaseSource()
	if err == nil {
		err = w.stream.finish(progress)
	} else {
		w.stream.abort()
	}
	w.removeStaging()
	if err != nil {
		w.out.Discard()
		return w.out.Friendly(err)
	}
	return w.out.Commit()
}

// writeCOG makes the COG from the staging file: with cloudio's encoder where
// it implements the options, else with GDAL's COG driver. The statistics are
// the windows' when they tell, else read from the staging file: by the
// encoder as it encodes it, or before GDAL copies it.
func (w *TileWriter) writeCOG(progress ProgressFunc) error {
	var md [][]string
	if w.stats != nil {
		md = w.stats.metadata()
	}
	ds, err := OpenDataset(w.staging)
	if err != nil {
		return err
	}
	defer ds.Close()
	extra := colorInterpArgs(w.interps)
	c := cogEncoding{opts: w.cog, extra: extra, metadata: md, scan: w.stats != nil && md == nil, progress: progress}
	if encoded, err := encodeDataset(ds, c, w.out); encoded || err != nil {
		return err
	}
	if c.scan {
		if md, progress, err = datasetStatistics(ds).metadata(progress); err != nil {
			return err
		}
	}
	return translateToCOG(storage.LocalName(w.staging), nil, md, w.out.Tmp, w.cog, extra, progress)
}

// Abort discards everything written. Aborting a closed writer is an error.
func (w *TileWriter) Abort() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return raster.Errorf(raster.StatusInvalidArgument, "writer is already closed")
	}
	w.discard()
	return nil
}

func (w *TileWriter) discard() {
	w.done = true
	if w.stream != nil {
		w.stream.abort()
	}
	if w.h != nil {
		w.h.Close(godal.ErrLogger(ignoreErrors))
		w.h = nil
	}
	w.releaseSource()
	w.removeStaging()
	w.out.Discard()
}

func (w *TileWriter) releaseSource() {
	if w.maskFrom != nil {
		w.maskFrom.Close(godal.ErrLogger(ignoreErrors))
		w.maskFrom = nil
	}
}

// removeStaging removes the staging file and what GDAL wrote beside it.
func (w *TileWriter) removeStaging() {
	for _, p := range []string{w.staging, w.staging + ".msk", w.staging + ".aux.xml"} {
		os.Remove(p)
	}
}
