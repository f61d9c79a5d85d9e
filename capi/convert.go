package main

/*
#include <stdlib.h>
#include <string.h>
#include "capi.h"
*/
import "C"

import (
	"fmt"
	"runtime/debug"
	"unicode/utf8"
	"unsafe"

	"github.com/cloudio-dem/cloudio/internal/core"
	"github.com/cloudio-dem/cloudio/internal/raster"
	"github.com/cloudio-dem/cloudio/internal/storage"
)

// status converts an error to a C status, writing its message, with every
// secret masked, into the caller's buffer ("" on success).
func status(err error, buf *C.char, n C.size_t) C.int {
	msg := ""
	if err != nil {
		msg = storage.ScrubSecrets(err.Error())
	}
	writeErr(buf, n, msg)
	return C.int(raster.StatusOf(err))
}

// writeErr copies msg into a caller buffer of n bytes: NUL-terminated,
// truncated at a UTF-8 boundary, never overflowed.
func writeErr(buf *C.char, n C.size_t, msg string) {
	if buf == nil || n == 0 {
		return
	}
	if uint64(len(msg)) > uint64(n-1) {
		msg = msg[:n-1]
		for len(msg) > 0 && !utf8.ValidString(msg) {
			msg = msg[:len(msg)-1]
		}
	}
	dst := unsafe.Slice((*byte)(unsafe.Pointer(buf)), len(msg)+1)
	copy(dst, msg)
	dst[len(msg)] = 0
}

// contain turns a panic into CLOUDIO_ERR_INTERNAL; every export defers it.
func contain(rc *C.int, buf *C.char, n C.size_t) {
	if r := recover(); r != nil {
		writeErr(buf, n, storage.ScrubSecrets(fmt.Sprintf("internal error (a bug in cloudio, please report it): %v\n%s", r, debug.Stack())))
		*rc = C.int(raster.StatusInternal)
	}
}

// goString converts a C string; NULL becomes "".
func goString(s *C.char) string {
	if s == nil {
		return ""
	}
	return C.GoString(s)
}

// goStrings converts a NULL-terminated array of C strings; NULL is empty.
func goStrings(arr **C.char) []string {
	var out []string
	if arr == nil {
		return nil
	}
	for p := arr; *p != nil; p = (**C.char)(unsafe.Add(unsafe.Pointer(p), unsafe.Sizeof(p))) {
		out = append(out, C.GoString(*p))
	}
	return out
}

// progressFunc adapts a C progress callback; NULL becomes nil.
func progressFunc(fn C.cloudio_progress_fn, user unsafe.Pointer) core.ProgressFunc {
	if fn == nil {
		return nil
	}
	return func(fraction float64, message string) bool {
		cmsg := C.CString(message)
		defer C.free(unsafe.Pointer(cmsg))
		return C.capi_call_progress(fn, C.double(fraction), cmsg, user) == 0
	}
}

func nullArg(name string) error {
	return &raster.Error{Status: raster.StatusInvalidArgument, Msg: name + " must not be NULL"}
}

// textOut hands text to a caller's buffer as the header's size-query
// convention says: *needed (when not NULL) gets the size with the NUL; a
// buffer too small gets nothing and is an error naming what.
func textOut(text string, buf *C.char, bufLen C.size_t, needed *C.size_t, what string) error {
	if needed != nil {
		*needed = C.size_t(len(text) + 1)
	}
	if buf != nil && bufLen > 0 {
		if C.size_t(len(text)) >= bufLen {
			return &raster.Error{Status: raster.StatusInvalidArgument, Msg: "buffer too small for " + what + ": see *needed"}
		}
		writeErr(buf, bufLen, text)
	}
	return nil
}
