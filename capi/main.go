// Package main is libcloudio's C ABI: //export wrappers that convert C
// arguments, call internal/core, and convert results and errors back.
// include/cloudio.h documents every function; capi.c defines its entry
// points over the capi_* functions exported here.
package main

/*
#include <stdint.h>
#include <stdlib.h>
#include "capi.h"
*/
import "C"

import (
	"sync"
	"unsafe"

	"github.com/cloudio-dem/cloudio/internal/core"
	"github.com/cloudio-dem/cloudio/internal/gdalc"
	"github.com/cloudio-dem/cloudio/internal/raster"
)

func main() {}

// Static strings handed to C: allocated once, never freed.
var static struct {
	once    sync.Once
	version *C.char
	names   map[raster.Status]*C.char
	unknown *C.char
}

func staticStrings() {
	static.once.Do(func() {
		gdalc.Init()
		static.version = C.CString(core.VersionString())
		static.names = map[raster.Status]*C.char{}
		for _, s := range []raster.Status{raster.StatusOK, raster.StatusInvalidArgument, raster.StatusNotFound,
			raster.StatusIO, raster.StatusUnsupported, raster.StatusCancelled, raster.StatusInternal} {
			static.names[s] = C.CString(s.String())
		}
		static.unknown = C.CString(raster.Status(-1).String())
	})
}

//export capi_version
func capi_version() *C.char {
	staticStrings()
	return static.version
}

//export capi_status_name
func capi_status_name(s C.int) *C.char {
	staticStrings()
	if name, ok := static.names[raster.Status(s)]; ok {
		return name
	}
	return static.unknown
}

//export capi_tile_windows
func capi_tile_windows(rows, cols, tileRows, tileCols, overlap C.int64_t, first C.uint64_t,
	out *C.int64_t, capacity C.uint64_t, written, total *C.uint64_t, errBuf *C.char, errLen C.size_t) (rc C.int) {
	defer contain(&rc, errBuf, errLen)
	switch {
	case written == nil:
		return status(nullArg("written"), errBuf, errLen)
	case total == nil:
		return status(nullArg("total"), errBuf, errLen)
	case out == nil && capacity > 0:
		return status(nullArg("out (with capacity > 0)"), errBuf, errLen)
	}
	t, err := raster.NewTiling(int64(rows), int64(cols), int64(tileRows), int64(tileCols), int64(overlap))
	if err != nil {
		return status(err, errBuf, errLen)
	}
	n := t.PageLen(uint64(first), uint64(capacity))
	if n > 0 {
		t.Page(uint64(first), unsafe.Slice((*int64)(unsafe.Pointer(out)), 4*n))
	}
	*written, *total = C.uint64_t(n), C.uint64_t(t.Len())
	return status(nil, errBuf, errLen)
}

//export capi_write_cog
func capi_write_cog(src, dst, compress *C.char, options **C.char,
	progress C.cloudio_progress_fn, progressUser unsafe.Pointer, errBuf *C.char, errLen C.size_t) (rc C.int) {
	defer contain(&rc, errBuf, errLen)
	if src == nil {
		return status(nullArg("src"), errBuf, errLen)
	}
	if dst == nil {
		return status(nullArg("dst"), errBuf, errLen)
	}
	err := core.WriteCOG(C.GoString(src), C.GoString(dst), core.COGOptions{
		Compress: goString(compress), Options: goStrings(options), Progress: progressFunc(progress, progressUser)})
	return status(err, errBuf, errLen)
}

//export capi_write_cog_buffer
func capi_write_cog_buffer(data unsafe.Pointer, dataLen C.size_t, dtype C.int, bands, rows, cols C.int64_t,
	geotransform *C.double, crs *C.char, nodata *C.double, dst, compress *C.char, options **C.char,
	progress C.cloudio_progress_fn, progressUser unsafe.Pointer, errBuf *C.char, errLen C.size_t) (rc C.int) {
	defer contain(&rc, errBuf, errLen)
	buf, err := bufferArgs(data, dataLen, dst)
	if err != nil {
		return status(err, errBuf, errLen)
	}
	err = core.WriteCOGBuffer(buf, raster.DType(dtype), int64(bands), int64(rows), int64(cols), georef(geotransform, crs, nodata), C.GoString(dst),
		core.COGOptions{Compress: goString(compress), Options: goStrings(options), Progress: progressFunc(progress, progressUser)})
	return status(err, errBuf, errLen)
}

// bufferArgs checks the arguments every *_buffer writer takes and views
// data as a Go slice.
func bufferArgs(data unsafe.Pointer, dataLen C.size_t, dst *C.char) ([]byte, error) {
	switch {
	case data == nil:
		return nil, nullArg("data")
	case dataLen == 0:
		return nil, &raster.Error{Status: raster.StatusInvalidArgument, Msg: "data_len must be > 0"}
	case dst == nil:
		return nil, nullArg("dst")
	}
	return goBytes(data, dataLen)
}
