package core

/*
#include <stdio.h>
#include <stdlib.h>
#include <cpl_error.h>
#include <cpl_vsi.h>

// A file held open through GDAL's virtual file system, with its size.
// Errors are kept quiet here and reported by the caller.
static VSILFILE *cloudioSourceOpen(const char *name, unsigned long long *size, char *err, size_t err_len) {
  CPLPushErrorHandler(CPLQuietErrorHandler);
  CPLErrorReset();
  VSILFILE *fp = VSIFOpenL(name, "rb");
  if (fp != NULL && VSIFSeekL(fp, 0, SEEK_END) == 0) {
    *size = VSIFTellL(fp);
  } else if (fp != NULL) {
    VSIFCloseL(fp);
    fp = NULL;
  }
  if (fp == NULL) {
    snprintf(err, err_len, "%s", CPLGetLastErrorMsg());
  }
  CPLPopErrorHandler();
  CPLErrorReset();
  return fp;
}

static size_t cloudioSourceRead(VSILFILE *fp, unsigned long long off, void *buf, size_t n, char *err, size_t err_len) {
  CPLPushErrorHandler(CPLQuietErrorHandler);
  CPLErrorReset();
  size_t got = VSIFSeekL(fp, off, SEEK_SET) == 0 ? VSIFReadL(buf, 1, n, fp) : 0;
  if (got < n) {
    snprintf(err, err_len, "%s", CPLGetLastErrorMsg());
  }
  CPLPopErrorHandler();
  CPLErrorReset();
  return got;
}
*/
import "C"

import (
	"errors"
	"io"
	"os"
	"sync"
	"unsafe"
)

// vsiSource is a file read through GDAL's virtual file system as a
// tiff.Source: local paths, /vsimem/ and every store GDAL reads, with the
// name's store options pinned around each read. It suits readers of small
// pieces (headers, IFDs, tag values): GDAL's /vsicurl/ reads ahead and
// caches 16 KiB chunks, so a COG's header costs a request or two, where the
// range fetcher (fetch.go) would send one request per piece.
type vsiSource struct {
	name string
	size int64
	mu   sync.Mutex // a VSI handle is not thread-safe
	fp   *C.VSILFILE
}

// errNotAFile: the name exists but is a directory, prefix or bucket.
var errNotAFile = errors.New("not a file")

// openVSISource opens name (a GDAL name): NOT_FOUND when it does not
// exist, errNotAFile for a directory, IO when it cannot be read.
func openVSISource(name string) (*vsiSource, error) {
	if st, err := os.Stat(name); err == nil && st.IsDir() {
		return nil, errNotAFile
	}
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var size C.ulonglong
	var msg [512]C.char
	var fp *C.VSILFILE
	pinned(name, func() { fp = C.cloudioSourceOpen(cname, &size, &msg[0], C.size_t(len(msg))) })
	if fp != nil {
		return &vsiSource{name: name, size: int64(size), fp: fp}, nil
	}
	why := C.GoString(&msg[0])
	if !pathExists(name) {
		if err := unreachable(name); err != nil {
			return nil, errorf(StatusIO, "cannot open %q: %s", name, err.Error())
		}
		return nil, errorf(StatusNotFound, "%q does not exist", name)
	}
	if why == "" {
		return nil, errNotAFile
	}
	return nil, errorf(StatusIO, "cannot open %q: %s", name, why)
}

// ReadAt reads len(p) bytes at off (io.ReaderAt).
func (s *vsiSource) ReadAt(p []byte, off int64) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fp == nil {
		return 0, errorf(StatusInvalidArgument, "%q is closed", s.name)
	}
	var msg [512]C.char
	var got C.size_t
	pinned(s.name, func() {
		got = C.cloudioSourceRead(s.fp, C.ulonglong(off), unsafe.Pointer(unsafe.SliceData(p)), C.size_t(len(p)), &msg[0], C.size_t(len(msg)))
	})
	if int(got) == len(p) {
		return len(p), nil
	}
	if why := C.GoString(&msg[0]); why != "" {
		return int(got), errorf(StatusIO, "cannot read %d bytes at offset %d of %q: %s", len(p), off, s.name, why)
	}
	return int(got), io.EOF
}

// Size is the file's length.
func (s *vsiSource) Size() int64 { return s.size }

// Close releases the handle; closing twice is harmless.
func (s *vsiSource) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fp != nil {
		C.VSIFCloseL(s.fp)
		s.fp = nil
	}
}
