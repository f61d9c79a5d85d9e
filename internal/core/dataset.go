package core

/*
#include <stdlib.h>
#include "translate.h"
*/
import "C"

import (
	"fmt"
	"math/big"
	"strconv"
	"sync"
	"unsafe"

	"github.com/airbusgeo/godal"

	"github.com/cloudio-dem/cloudio/internal/gdalc"
	"github.com/cloudio-dem/cloudio/internal/raster"
	"github.com/cloudio-dem/cloudio/internal/storage"
)

// Dataset is an open raster that many goroutines may read at once. A GDAL
// handle must not be used by two threads at once, so every read borrows a
// handle of its own from a free list, opening another when none is free.
type Dataset struct {
	name   storage.Name // resolved once by OpenDataset; GDAL opens name.GDAL (see openResolved)
	info   raster.Info
	crs    string
	noData []bandNoData // by band, from 0
	nbits  int          // band 1's NBITS (samples of fewer bits than its type's), 0 for none

	// raw decodes blocks directly for every reader at once, when the layout
	// allows it (nil otherwise); GDAL handles serve the rest.
	raw *directReader

	mu      sync.Mutex
	free    []*handle
	rawUses int // direct reads in progress: raw closes after the last
	closed  bool
}

// handle is one thread's GDAL dataset.
type handle struct {
	gdal *godal.Dataset
}

func (h *handle) close() { h.gdal.Close() }

// direct reports whether reads of spec (resolved) go through the direct
// decoder, which needs no GDAL handle.
func (d *Dataset) direct(spec raster.ReadSpec) bool {
	return d.raw != nil && spec.DType == d.info.DType
}

// read reads a window of spec (resolved) into buf: through the direct
// decoder when it can serve the spec, else through h (which may then be nil:
// read borrows one).
func (d *Dataset) read(h *handle, w raster.Window, spec raster.ReadSpec, buf []byte) error {
	if !d.direct(spec) {
		var err error
		if h == nil {
			if h, err = d.acquire(); err != nil {
				return err
			}
			defer d.release(h)
		}
		storage.Pinned(d.name.Store, func() { err = readInto(h.gdal, d.name.User, d.info, w, spec, buf) })
		return err
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return raster.Errorf(raster.StatusInvalidArgument, "dataset %q is closed", d.name.User)
	}
	d.rawUses++
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.rawUses--; d.rawUses == 0 && d.closed {
			d.raw.close()
		}
	}()
	return d.raw.read(d.name.User, w, spec.Bands, buf)
}

// OpenDataset opens a raster (a path or GDAL name) for reading.
func OpenDataset(name string) (*Dataset, error) {
	gdalc.Init()
	n, err := storage.Resolve("dataset", name)
	if err != nil {
		return nil, err
	}
	h, n, err := openResolved(n)
	if err != nil {
		return nil, err
	}
	st := h.Structure()
	if st.NBands == 0 {
		h.Close()
		return nil, raster.Errorf(raster.StatusInvalidArgument, "%q has no raster bands", n.User)
	}
	info := raster.Info{Rows: int64(st.SizeY), Cols: int64(st.SizeX), Bands: int64(st.NBands),
		BlockRows: int64(st.BlockSizeY), BlockCols: int64(st.BlockSizeX)}
	for _, b := range h.Bands() {
		info.BandTypes = append(info.BandTypes, bandType(b))
	}
	info.DType = info.BandTypes[0]
	if t, ok := raster.CommonType(info.BandTypes); ok {
		info.DType = t
	}
	info.GeoTransform = [6]float64{0, 1, 0, 0, 0, 1} // GDAL's default, for rasters without one
	var noGeoTransform gdalErrors
	if gt, err := h.GeoTransform(godal.ErrLogger(noGeoTransform.handler())); err == nil {
		info.GeoTransform, info.HasGeoTransform = gt, true
	}
	var noData []bandNoData
	for i, b := range h.Bands() {
		noData = append(noData, readNoData(b, info.BandTypes[i]))
	}
	info.NoData, info.HasNoData = noData[0].value.Float, noData[0].ok
	d := &Dataset{name: n, info: info, crs: h.Projection(), noData: noData, free: []*handle{{gdal: h}}}
	d.nbits, _ = strconv.Atoi(h.Bands()[0].Metadata("NBITS", godal.Domain("IMAGE_STRUCTURE")))
	if fill, err := d.sparseFill(); err == nil {
		d.raw = openDirect(n, h, info, fill, defaultWorkers(n))
	}
	return d, nil
}

// sparseFill is what GDAL reads in a GeoTIFF's sparse blocks (those the
// file has no bytes for): band 1's nodata in the raster's type, else 0.
func (d *Dataset) sparseFill() ([]byte, error) {
	v := d.noData[0].value.Float
	if !d.noData[0].ok {
		v = 0
	}
	return raster.EncodeValue(d.info.DType, d.info.DType.Convert(v))
}

// bandType is a band's data type, Int8 for GDAL 3.6's signed bytes.
func bandType(b godal.Band) raster.DType {
	t := raster.DType(b.Structure().DataType)
	if t == raster.Byte && b.Metadata("PIXELTYPE", godal.Domain("IMAGE_STRUCTURE")) == "SIGNEDBYTE" {
		return raster.Int8
	}
	return t
}

type bandNoData struct {
	value raster.NoData
	ok    bool
}

// readNoData is band's nodata value, exactly: for a 64-bit integer band
// through GDAL's C API, as godal reads only the double.
func readNoData(band godal.Band, dtype raster.DType) bandNoData {
	nd := C.cloudioBandNoData(C.GDALRasterBandH(bandHandle(band)))
	var exact *big.Int
	switch dtype {
	case raster.Int64:
		exact = big.NewInt(int64(nd.as_int64))
	case raster.UInt64:
		exact = new(big.Int).SetUint64(uint64(nd.as_uint64))
	default:
		return bandNoData{raster.NoDataFloat(float64(nd.value)), nd.has != 0}
	}
	f, _ := new(big.Float).SetInt(exact).Float64()
	return bandNoData{raster.NoData{Float: f, Int: exact}, nd.has != 0}
}

// NoData is band b's (1-based) nodata value, exactly; false when it has
// none.
func (d *Dataset) NoData(b int) (raster.NoData, bool) {
	if b < 1 || b > len(d.noData) {
		return raster.NoData{}, false
	}
	return d.noData[b-1].value, d.noData[b-1].ok
}

func ignoreErrors(godal.ErrorCategory, int, string) error { return nil }

// Name is the name the dataset was opened with.
func (d *Dataset) Name() string { return d.name.User }

// Info describes the raster.
func (d *Dataset) Info() raster.Info { return d.info }

// CRS is the raster's coordinate reference system as WKT, "" when it has none.
func (d *Dataset) CRS() string { return d.crs }

func (d *Dataset) acquire() (*handle, error) {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil, raster.Errorf(raster.StatusInvalidArgument, "dataset %q is closed", d.name.User)
	}
	if n := len(d.free); n > 0 {
		h := d.free[n-1]
		d.free = d.free[:n-1]
		d.mu.Unlock()
		return h, nil
	}
	d.mu.Unlock()
	g, err := openRaster(d.name)
	if err != nil {
		return nil, err
	}
	return &handle{gdal: g}, nil
}

func (d *Dataset) release(h *handle) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		h.close()
		return
	}
	d.free = append(d.free, h)
}

// Close releases every idle handle; handles in use close when their read
// ends. Closing twice is an error.
func (d *Dataset) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return raster.Errorf(raster.StatusInvalidArgument, "dataset %q is already closed", d.name.User)
	}
	d.closed = true
	if d.rawUses == 0 {
		d.raw.close()
	}
	for _, h := range d.free {
		h.close()
	}
	d.free = nil
	return nil
}

// ReadWindow reads window w of the spec's bands into buf, band-sequential
// and row-major; len(buf) must be exactly the window's size.
// ReadType is the buffer type ReadWindow fills for spec, checked as it
// checks it (the bands exist, one buffer type holds them), without reading:
// what a caller planning reads (a Dask graph) needs to know up front.
func (d *Dataset) ReadType(spec raster.ReadSpec) (raster.DType, error) {
	spec, err := spec.Resolve(d.info)
	return spec.DType, err
}

func (d *Dataset) ReadWindow(w raster.Window, spec raster.ReadSpec, buf []byte) error {
	if err := d.info.CheckWindow(w); err != nil {
		return err
	}
	spec, err := spec.Resolve(d.info)
	if err != nil {
		return err
	}
	if want := spec.BufferLen(w); int64(len(buf)) != want {
		return raster.Errorf(raster.StatusInvalidArgument, "buffer holds %d bytes, but the window needs %d (%d bands x %d x %d %s)",
			len(buf), want, len(spec.Bands), w.Rows, w.Cols, spec.DType)
	}
	return d.read(nil, w, spec, buf)
}

// readInto reads window w of spec's bands from h into buf. GDAL converts
// every band to the buffer's type, but for the conversions it gets wrong
// (signed bytes before GDAL 3.7): such a band is read in its own type and
// converted here.
func readInto(h *godal.Dataset, name string, info raster.Info, w raster.Window, spec raster.ReadSpec, buf []byte) error {
	own := false
	for _, b := range spec.Bands {
		own = own || !gdalConverts(info.BandType(b), spec.DType)
	}
	if !own {
		return readThroughGDAL(h, name, w, spec.Bands, spec.DType, buf)
	}
	plane := int(w.Rows * w.Cols)
	for i, b := range spec.Bands {
		slot := buf[i*plane*spec.DType.Size() : (i+1)*plane*spec.DType.Size()]
		from := info.BandType(b)
		if gdalConverts(from, spec.DType) {
			if err := readThroughGDAL(h, name, w, []int{b}, spec.DType, slot); err != nil {
				return err
			}
			continue
		}
		tmp := make([]byte, plane*from.Size())
		if err := readThroughGDAL(h, name, w, []int{b}, from, tmp); err != nil {
			return err
		}
		raster.ConvertCells(slot, spec.DType, tmp, from, plane)
	}
	return nil
}

// readThroughGDAL reads window w of the 1-based bands from h into buf as dtype
// through GDAL, which converts.
func readThroughGDAL(h *godal.Dataset, name string, w raster.Window, bands []int, dtype raster.DType, buf []byte) error {
	zeroBased := make([]int, len(bands)) // godal counts bands from 0
	for i, b := range bands {
		zeroBased[i] = b - 1
	}
	var ge gdalErrors
	err := h.Read(int(w.ColOff), int(w.RowOff), typedSlice(buf, gdalType(dtype)), int(w.Cols), int(w.Rows),
		godal.Bands(zeroBased...), godal.BandInterleaved(), godal.ErrLogger(ge.handler()))
	if err != nil {
		return ge.Err(fmt.Sprintf("cannot read window (row_off=%d, col_off=%d, n_rows=%d, n_cols=%d) of %q", w.RowOff, w.ColOff, w.Rows, w.Cols, name), raster.StatusIO)
	}
	return nil
}

// typedSlice views buf as a slice of dtype's Go type, which godal's IO
// requires; buf's length is a multiple of the type's size.
func typedSlice(buf []byte, dtype raster.DType) any {
	p, n := unsafe.Pointer(unsafe.SliceData(buf)), len(buf)/dtype.Size()
	switch dtype {
	case raster.Byte:
		return buf
	case raster.Int8:
		return unsafe.Slice((*int8)(p), n)
	case raster.UInt16:
		return unsafe.Slice((*uint16)(p), n)
	case raster.Int16:
		return unsafe.Slice((*int16)(p), n)
	case raster.UInt32:
		return unsafe.Slice((*uint32)(p), n)
	case raster.Int32:
		return unsafe.Slice((*int32)(p), n)
	case raster.Float32:
		return unsafe.Slice((*float32)(p), n)
	case raster.Float64:
		return unsafe.Slice((*float64)(p), n)
	case raster.UInt64:
		return unsafe.Slice((*uint64)(p), n)
	case raster.Int64:
		return unsafe.Slice((*int64)(p), n)
	}
	panic(fmt.Sprintf("typedSlice: unsupported %s", dtype))
}
