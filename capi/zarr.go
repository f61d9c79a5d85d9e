package main

/*
#include <stdint.h>
#include <stdlib.h>
#include "capi.h"
*/
import "C"

import (
	"unsafe"

	"github.com/cloudio-dem/cloudio/internal/core"
	"github.com/cloudio-dem/cloudio/internal/raster"
)

//export capi_write_zarr
func capi_write_zarr(src, dst *C.char, chunkRows, chunkCols C.int64_t, compress *C.char, options **C.char,
	progress C.cloudio_progress_fn, progressUser unsafe.Pointer, errBuf *C.char, errLen C.size_t) (rc C.int) {
	defer contain(&rc, errBuf, errLen)
	if src == nil {
		return status(nullArg("src"), errBuf, errLen)
	}
	if dst == nil {
		return status(nullArg("dst"), errBuf, errLen)
	}
	err := core.WriteZarr(C.GoString(src), C.GoString(dst), zarrOptions(chunkRows, chunkCols, compress, options, progress, progressUser))
	return status(err, errBuf, errLen)
}

//export capi_write_zarr_buffer
func capi_write_zarr_buffer(data unsafe.Pointer, dataLen C.size_t, dtype C.int, bands, rows, cols C.int64_t,
	geotransform *C.double, crs *C.char, nodata *C.double, dst *C.char, chunkRows, chunkCols C.int64_t,
	compress *C.char, options **C.char, progress C.cloudio_progress_fn, progressUser unsafe.Pointer,
	errBuf *C.char, errLen C.size_t) (rc C.int) {
	defer contain(&rc, errBuf, errLen)
	buf, err := bufferArgs(data, dataLen, dst)
	if err != nil {
		return status(err, errBuf, errLen)
	}
	err = core.WriteZarrBuffer(buf, raster.DType(dtype), int64(bands), int64(rows), int64(cols), georef(geotransform, crs, nodata),
		C.GoString(dst), zarrOptions(chunkRows, chunkCols, compress, options, progress, progressUser))
	return status(err, errBuf, errLen)
}

func zarrOptions(chunkRows, chunkCols C.int64_t, compress *C.char, options **C.char, progress C.cloudio_progress_fn, user unsafe.Pointer) core.ZarrOptions {
	return core.ZarrOptions{ChunkRows: int64(chunkRows), ChunkCols: int64(chunkCols), Compress: goString(compress),
		Options: goStrings(options), Progress: progressFunc(progress, user)}
}
