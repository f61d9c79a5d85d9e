package core

/*
#cgo CFLAGS: -O3
#include <stdlib.h>
#include "rawtiff.h"
*/
import "C"

import (
	"unsafe"
)

// directDecode enables the direct GeoTIFF block decoder (rawtiff.c); tests
// turn it off to compare with GDAL's own reads.
var directDecode = true

// rawReader decodes GeoTIFF blocks directly; nil when the layout is not
// supported, and reads then go through GDAL.
type rawReader struct {
	c *C.cloudioRaw
}

func openRawReader(name string) *rawReader {
	if !directDecode {
		return nil
	}
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	c := C.cloudioRawOpen(cname)
	if c == nil {
		return nil
	}
	return &rawReader{c: c}
}

func (r *rawReader) read(w Window, bands []int, buf []byte, name string) error {
	cb := make([]C.int, len(bands))
	for i, b := range bands {
		cb[i] = C.int(b)
	}
	var msg [512]C.char
	if C.cloudioRawRead(r.c, C.longlong(w.RowOff), C.longlong(w.ColOff), C.longlong(w.Rows), C.longlong(w.Cols),
		&cb[0], C.int(len(cb)), unsafe.Pointer(unsafe.SliceData(buf)), &msg[0], C.size_t(len(msg))) != 0 {
		return errorf(StatusIO, "cannot read window (row_off=%d, col_off=%d, n_rows=%d, n_cols=%d) of %q: %s",
			w.RowOff, w.ColOff, w.Rows, w.Cols, name, C.GoString(&msg[0]))
	}
	return nil
}

func (r *rawReader) close() {
	if r != nil {
		C.cloudioRawClose(r.c)
	}
}
