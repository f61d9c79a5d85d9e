package main

/*
#include <stdint.h>
#include <stdlib.h>
#include "capi.h"
*/
import "C"

import (
	"fmt"
	"math"
	"sync"
	"unsafe"

	pointer "github.com/mattn/go-pointer"

	"github.com/cloudio-dem/cloudio/internal/core"
	"github.com/cloudio-dem/cloudio/internal/raster"
)

// handle restores an opaque handle of type T; a NULL, closed or foreign
// handle is an error, never a crash.
func handle[T any](h unsafe.Pointer, what string) (T, error) {
	var zero T
	if h == nil {
		return zero, nullArg(what)
	}
	v, ok := pointer.Restore(h).(T)
	if !ok {
		return zero, notA(what)
	}
	return v, nil
}

func notA(what string) error {
	return &raster.Error{Status: raster.StatusInvalidArgument, Msg: what + " is closed or not a " + what}
}

// releasing serialises take: go-pointer's Unref frees the handle's memory,
// so two closes of one handle must not both get past Restore.
var releasing sync.Mutex

// take restores and releases an opaque handle of type T in one step, for
// the functions that close it: of two threads closing one handle, one gets
// it and the other an error. ok is false for NULL, which closes nothing.
func take[T any](h unsafe.Pointer, what string) (v T, ok bool, err error) {
	if h == nil {
		return v, false, nil
	}
	releasing.Lock()
	defer releasing.Unlock()
	if v, ok = pointer.Restore(h).(T); !ok {
		return v, false, notA(what)
	}
	pointer.Unref(h)
	return v, true, nil
}

func goInts(p *C.int, n C.size_t) []int {
	if p == nil || n == 0 {
		return nil
	}
	out := make([]int, n)
	for i, v := range unsafe.Slice((*C.int)(p), int(n)) {
		out[i] = int(v)
	}
	return out
}

// goBytes views a caller's buffer; a length no buffer can have is an error,
// never a slice that wraps around.
func goBytes(p unsafe.Pointer, n C.size_t) ([]byte, error) {
	if uint64(n) > math.MaxInt64/2 {
		return nil, &raster.Error{Status: raster.StatusInvalidArgument, Msg: fmt.Sprintf("buffer length %d is not a real buffer size", uint64(n))}
	}
	if p == nil || n == 0 {
		return nil, nil
	}
	return unsafe.Slice((*byte)(p), int(n)), nil
}

func georef(geotransform *C.double, crs *C.char, nodata *C.double) raster.Georef {
	var g raster.Georef
	if geotransform != nil {
		gt := *(*[6]float64)(unsafe.Pointer(geotransform))
		g.GeoTransform = &gt
	}
	g.CRS = goString(crs)
	if nodata != nil {
		nd := raster.NoDataFloat(float64(*nodata))
		g.NoData = &nd
	}
	return g
}

func cInfo(i raster.Info) C.cloudio_info {
	out := C.cloudio_info{rows: C.int64_t(i.Rows), cols: C.int64_t(i.Cols), bands: C.int64_t(i.Bands), dtype: C.int(i.DType),
		block_rows: C.int64_t(i.BlockRows), block_cols: C.int64_t(i.BlockCols), nodata: C.double(i.NoData)}
	for k, v := range i.GeoTransform {
		out.geotransform[k] = C.double(v)
	}
	if i.HasGeoTransform {
		out.has_geotransform = 1
	}
	if i.HasNoData {
		out.has_nodata = 1
	}
	return out
}

func window(rowOff, colOff, nRows, nCols C.int64_t) raster.Window {
	return raster.Window{RowOff: int64(rowOff), ColOff: int64(colOff), Rows: int64(nRows), Cols: int64(nCols)}
}

//export capi_dataset_open
func capi_dataset_open(name *C.char, out *unsafe.Pointer, errBuf *C.char, errLen C.size_t) (rc C.int) {
	defer contain(&rc, errBuf, errLen)
	if name == nil {
		return status(nullArg("name"), errBuf, errLen)
	}
	if out == nil {
		return status(nullArg("out"), errBuf, errLen)
	}
	ds, err := core.OpenDataset(C.GoString(name))
	if err == nil {
		*out = pointer.Save(ds)
	}
	return status(err, errBuf, errLen)
}

//export capi_dataset_info
func capi_dataset_info(h unsafe.Pointer, out *C.cloudio_info, errBuf *C.char, errLen C.size_t) (rc C.int) {
	defer contain(&rc, errBuf, errLen)
	ds, err := handle[*core.Dataset](h, "dataset")
	if err != nil {
		return status(err, errBuf, errLen)
	}
	if out == nil {
		return status(nullArg("out"), errBuf, errLen)
	}
	*out = cInfo(ds.Info())
	return status(nil, errBuf, errLen)
}

//export capi_dataset_crs
func capi_dataset_crs(h unsafe.Pointer, buf *C.char, bufLen C.size_t, needed *C.size_t, errBuf *C.char, errLen C.size_t) (rc C.int) {
	defer contain(&rc, errBuf, errLen)
	ds, err := handle[*core.Dataset](h, "dataset")
	if err != nil {
		return status(err, errBuf, errLen)
	}
	return status(textOut(ds.CRS(), buf, bufLen, needed, "the WKT"), errBuf, errLen)
}

//export capi_dataset_nodata
func capi_dataset_nodata(h unsafe.Pointer, band C.int, buf *C.char, bufLen C.size_t, needed *C.size_t, errBuf *C.char, errLen C.size_t) (rc C.int) {
	defer contain(&rc, errBuf, errLen)
	ds, err := handle[*core.Dataset](h, "dataset")
	if err != nil {
		return status(err, errBuf, errLen)
	}
	if band < 1 || int64(band) > ds.Info().Bands {
		return status(&raster.Error{Status: raster.StatusInvalidArgument, Msg: fmt.Sprintf("band %d does not exist (the raster has bands 1..%d)", band, ds.Info().Bands)}, errBuf, errLen)
	}
	text := ""
	if nd, ok := ds.NoData(int(band)); ok {
		text = nd.String()
	}
	return status(textOut(text, buf, bufLen, needed, "the nodata value"), errBuf, errLen)
}

//export capi_dataset_read
func capi_dataset_read(h unsafe.Pointer, rowOff, colOff, nRows, nCols C.int64_t, bands *C.int, nBands C.size_t, dtype C.int,
	buf unsafe.Pointer, bufLen C.size_t, errBuf *C.char, errLen C.size_t) (rc C.int) {
	defer contain(&rc, errBuf, errLen)
	ds, err := handle[*core.Dataset](h, "dataset")
	if err != nil {
		return status(err, errBuf, errLen)
	}
	if buf == nil {
		return status(nullArg("buf"), errBuf, errLen)
	}
	if bands == nil && nBands > 0 {
		return status(nullArg("bands (with n_bands > 0)"), errBuf, errLen)
	}
	b, err := goBytes(buf, bufLen)
	if err == nil {
		err = ds.ReadWindow(window(rowOff, colOff, nRows, nCols), raster.ReadSpec{Bands: goInts(bands, nBands), DType: raster.DType(dtype)}, b)
	}
	return status(err, errBuf, errLen)
}

//export capi_dataset_read_type
func capi_dataset_read_type(h unsafe.Pointer, bands *C.int, nBands C.size_t, dtype C.int, bufferType *C.int, errBuf *C.char, errLen C.size_t) (rc C.int) {
	defer contain(&rc, errBuf, errLen)
	ds, err := handle[*core.Dataset](h, "dataset")
	if err != nil {
		return status(err, errBuf, errLen)
	}
	if bands == nil && nBands > 0 {
		return status(nullArg("bands (with n_bands > 0)"), errBuf, errLen)
	}
	if bufferType == nil {
		return status(nullArg("buffer_dtype"), errBuf, errLen)
	}
	t, err := ds.ReadType(raster.ReadSpec{Bands: goInts(bands, nBands), DType: raster.DType(dtype)})
	if err == nil {
		*bufferType = C.int(t)
	}
	return status(err, errBuf, errLen)
}

//export capi_dataset_close
func capi_dataset_close(h unsafe.Pointer, errBuf *C.char, errLen C.size_t) (rc C.int) {
	defer contain(&rc, errBuf, errLen)
	ds, ok, err := take[*core.Dataset](h, "dataset")
	if ok {
		err = ds.Close()
	}
	return status(err, errBuf, errLen)
}

//export capi_reader_options_init
func capi_reader_options_init(o *C.cloudio_reader_options) {
	if o != nil {
		*o = C.cloudio_reader_options{tile_rows: raster.DefaultTileSide, tile_cols: raster.DefaultTileSide}
	}
}

//export capi_reader_open
func capi_reader_open(name *C.char, o *C.cloudio_reader_options, masks C.int, out *unsafe.Pointer, errBuf *C.char, errLen C.size_t) (rc C.int) {
	defer contain(&rc, errBuf, errLen)
	switch {
	case name == nil:
		return status(nullArg("name"), errBuf, errLen)
	case o == nil:
		return status(nullArg("options"), errBuf, errLen)
	case out == nil:
		return status(nullArg("out"), errBuf, errLen)
	case o.bands == nil && o.n_bands > 0:
		return status(nullArg("options->bands (with n_bands > 0)"), errBuf, errLen)
	}
	r, err := core.OpenTileReader(C.GoString(name), core.ReaderOptions{
		TileRows: int64(o.tile_rows), TileCols: int64(o.tile_cols), Overlap: int64(o.overlap), Halo: int64(o.halo),
		Edge: core.Edge(o.edge), Spec: raster.ReadSpec{Bands: goInts(o.bands, o.n_bands), DType: raster.DType(o.dtype)},
		Workers: int(o.workers), Prefetch: int(o.prefetch), Masks: masks != 0})
	if err == nil {
		*out = pointer.Save(r)
	}
	return status(err, errBuf, errLen)
}

//export capi_reader_info
func capi_reader_info(h unsafe.Pointer, out *C.cloudio_info, count *C.uint64_t, maxBufLen *C.size_t, errBuf *C.char, errLen C.size_t) (rc C.int) {
	defer contain(&rc, errBuf, errLen)
	r, err := handle[*core.TileReader](h, "reader")
	if err != nil {
		return status(err, errBuf, errLen)
	}
	if out != nil {
		*out = cInfo(r.Info())
	}
	if count != nil {
		*count = C.uint64_t(r.Len())
	}
	if maxBufLen != nil {
		*maxBufLen = C.size_t(r.BufferLen())
	}
	return status(nil, errBuf, errLen)
}

//export capi_reader_next
func capi_reader_next(h unsafe.Pointer, win *C.int64_t, buf unsafe.Pointer, bufLen C.size_t, errBuf *C.char, errLen C.size_t) (rc C.int) {
	defer contain(&rc, errBuf, errLen)
	r, err := handle[*core.TileReader](h, "reader")
	if err != nil {
		return status(err, errBuf, errLen)
	}
	if win == nil {
		return status(nullArg("window"), errBuf, errLen)
	}
	if buf == nil {
		return status(nullArg("buf"), errBuf, errLen)
	}
	b, err := goBytes(buf, bufLen)
	if err != nil {
		return status(err, errBuf, errLen)
	}
	t, ok, err := r.Next(b)
	out := unsafe.Slice((*int64)(unsafe.Pointer(win)), 8)
	if !ok {
		for i := range out {
			out[i] = 0
		}
		return status(err, errBuf, errLen)
	}
	w, p := t.Window, t.Padded
	copy(out, []int64{w.RowOff, w.ColOff, w.Rows, w.Cols, p.RowOff, p.ColOff, p.Rows, p.Cols})
	return status(nil, errBuf, errLen)
}

//export capi_reader_close
func capi_reader_close(h unsafe.Pointer, errBuf *C.char, errLen C.size_t) (rc C.int) {
	defer contain(&rc, errBuf, errLen)
	r, ok, err := take[*core.TileReader](h, "reader")
	if ok {
		err = r.Close()
	}
	return status(err, errBuf, errLen)
}

//export capi_writer_open
func capi_writer_open(dst *C.char, rows, cols, bands C.int64_t, dtype C.int, geotransform *C.double, crs *C.char, nodata *C.double,
	compress *C.char, options **C.char, out *unsafe.Pointer, errBuf *C.char, errLen C.size_t) (rc C.int) {
	defer contain(&rc, errBuf, errLen)
	if dst == nil {
		return status(nullArg("dst"), errBuf, errLen)
	}
	if out == nil {
		return status(nullArg("out"), errBuf, errLen)
	}
	w, err := core.CreateTileWriter(C.GoString(dst), core.WriterSpec{Rows: int64(rows), Cols: int64(cols), Bands: int64(bands),
		DType: raster.DType(dtype), Georef: georef(geotransform, crs, nodata)},
		core.COGOptions{Compress: goString(compress), Options: goStrings(options)})
	if err == nil {
		*out = pointer.Save(w)
	}
	return status(err, errBuf, errLen)
}

//export capi_writer_set_source
func capi_writer_set_source(h unsafe.Pointer, src *C.char, bands *C.int, nBands C.size_t, copyFlags C.int, errBuf *C.char, errLen C.size_t) (rc C.int) {
	defer contain(&rc, errBuf, errLen)
	w, err := handle[*core.TileWriter](h, "writer")
	if err != nil {
		return status(err, errBuf, errLen)
	}
	switch {
	case src == nil:
		return status(nullArg("src"), errBuf, errLen)
	case bands == nil && nBands > 0:
		return status(nullArg("bands (with n_bands > 0)"), errBuf, errLen)
	}
	return status(w.SetSource(C.GoString(src), goInts(bands, nBands), core.CopyFlags(copyFlags)), errBuf, errLen)
}

//export capi_writer_write_masked
func capi_writer_write_masked(h unsafe.Pointer, rowOff, colOff, nRows, nCols C.int64_t, buf unsafe.Pointer, bufLen C.size_t,
	mask unsafe.Pointer, maskLen C.size_t, errBuf *C.char, errLen C.size_t) (rc C.int) {
	defer contain(&rc, errBuf, errLen)
	w, err := handle[*core.TileWriter](h, "writer")
	if err != nil {
		return status(err, errBuf, errLen)
	}
	if buf == nil {
		return status(nullArg("buf"), errBuf, errLen)
	}
	if mask == nil {
		return status(nullArg("mask"), errBuf, errLen)
	}
	b, err := goBytes(buf, bufLen)
	var m []byte
	if err == nil {
		m, err = goBytes(mask, maskLen)
	}
	if m == nil {
		m = []byte{} // a mask of no cells: the length check reports it
	}
	if err == nil {
		err = w.WriteMasked(window(rowOff, colOff, nRows, nCols), b, m)
	}
	return status(err, errBuf, errLen)
}

//export capi_writer_write
func capi_writer_write(h unsafe.Pointer, rowOff, colOff, nRows, nCols C.int64_t, buf unsafe.Pointer, bufLen C.size_t, errBuf *C.char, errLen C.size_t) (rc C.int) {
	defer contain(&rc, errBuf, errLen)
	w, err := handle[*core.TileWriter](h, "writer")
	if err != nil {
		return status(err, errBuf, errLen)
	}
	if buf == nil {
		return status(nullArg("buf"), errBuf, errLen)
	}
	b, err := goBytes(buf, bufLen)
	if err == nil {
		err = w.Write(window(rowOff, colOff, nRows, nCols), b)
	}
	return status(err, errBuf, errLen)
}

//export capi_writer_close
func capi_writer_close(h unsafe.Pointer, progress C.cloudio_progress_fn, progressUser unsafe.Pointer, errBuf *C.char, errLen C.size_t) (rc C.int) {
	defer contain(&rc, errBuf, errLen)
	w, ok, err := take[*core.TileWriter](h, "writer")
	if ok {
		err = w.Close(progressFunc(progress, progressUser))
	}
	return status(err, errBuf, errLen)
}

//export capi_writer_abort
func capi_writer_abort(h unsafe.Pointer, errBuf *C.char, errLen C.size_t) (rc C.int) {
	defer contain(&rc, errBuf, errLen)
	w, ok, err := take[*core.TileWriter](h, "writer")
	if ok {
		err = w.Abort()
	}
	return status(err, errBuf, errLen)
}
