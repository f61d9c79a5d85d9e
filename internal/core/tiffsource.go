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

	"github.com/cloudio-dem/cloudio/internal/raster"
)

// The tiff.Source of each kind of file cloudio reads itself: fileSource (a
// local file), vsiSource (any name GDAL's virtual file system opens) and
// fetchSource (cloudio's own HTTP range fetcher, fetch.go).

// fileSource is a local file.
type fileSource struct {
	*os.File
	size int64
}

func (s fileSource) Size() int64 { return s.size }

// vsiSource is a file read through GDAL's virtual file system as a
// tiff.Source: local paths, /vsimem/ and every store GDAL reads, with the
// name's store options pinned around each read. A VSI handle serves one
// thread at a time, so concurrent reads (the direct decoder's) each take an
// idle handle, or open one; a serial reader (validate's) reuses one handle,
// and GDAL's /vsicurl/ then reads ahead and caches 16 KiB chunks, so a
// COG's header costs a request or two.
type vsiSource struct {
	name   string
	size   int64
	mu     sync.Mutex
	idle   []*C.VSILFILE
	closed bool
}

// errNotAFile: the name exists but is a directory, prefix or bucket.
var errNotAFile = errors.New("not a file")

// openVSISource opens name (a GDAL name): NOT_FOUND when it does not
// exist, errNotAFile for a directory, IO when it cannot be read.
func openVSISource(name string) (*vsiSource, error) {
	if st, err := os.Stat(name); err == nil && st.IsDir() {
		return nil, errNotAFile
	}
	var size C.ulonglong
	var msg [512]C.char
	fp := openVSIHandle(name, &size, msg[:])
	if fp != nil {
		return &vsiSource{name: name, size: int64(size), idle: []*C.VSILFILE{fp}}, nil
	}
	why := C.GoString(&msg[0])
	if !pathExists(name) {
		if err := unreachable(name); err != nil {
			return nil, raster.Errorf(raster.StatusIO, "cannot open %q: %s", name, err.Error())
		}
		return nil, raster.Errorf(raster.StatusNotFound, "%q does not exist", name)
	}
	if why == "" {
		return nil, errNotAFile
	}
	return nil, raster.Errorf(raster.StatusIO, "cannot open %q: %s", name, why)
}

func openVSIHandle(name string, size *C.ulonglong, msg []C.char) *C.VSILFILE {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var fp *C.VSILFILE
	pinned(name, func() { fp = C.cloudioSourceOpen(cname, size, &msg[0], C.size_t(len(msg))) })
	return fp
}

// ReadAt reads len(p) bytes at off (io.ReaderAt).
func (s *vsiSource) ReadAt(p []byte, off int64) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var msg [512]C.char
	fp, err := s.take(msg[:])
	if err != nil {
		return 0, err
	}
	defer s.put(fp)
	var got C.size_t
	pinned(s.name, func() {
		got = C.cloudioSourceRead(fp, C.ulonglong(off), unsafe.Pointer(unsafe.SliceData(p)), C.size_t(len(p)), &msg[0], C.size_t(len(msg)))
	})
	if int(got) == len(p) {
		return len(p), nil
	}
	if why := C.GoString(&msg[0]); why != "" {
		return int(got), errors.New(why)
	}
	return int(got), io.EOF
}

// take is an idle handle, or a new one.
func (s *vsiSource) take(msg []C.char) (*C.VSILFILE, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, raster.Errorf(raster.StatusInvalidArgument, "%q is closed", s.name)
	}
	if n := len(s.idle); n > 0 {
		fp := s.idle[n-1]
		s.idle = s.idle[:n-1]
		s.mu.Unlock()
		return fp, nil
	}
	s.mu.Unlock()
	var size C.ulonglong
	if fp := openVSIHandle(s.name, &size, msg); fp != nil {
		return fp, nil
	}
	return nil, errors.New(C.GoString(&msg[0]))
}

func (s *vsiSource) put(fp *C.VSILFILE) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		C.VSIFCloseL(fp)
		return
	}
	s.idle = append(s.idle, fp)
}

// Size is the file's length.
func (s *vsiSource) Size() int64 { return s.size }

// Close releases the handles (those in use when their read ends); closing
// twice, or a nil source, is harmless.
func (s *vsiSource) Close() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, fp := range s.idle {
		C.VSIFCloseL(fp)
	}
	s.idle, s.closed = nil, true
}

// fetchSource is a remote file read by cloudio's own HTTP fetcher.
type fetchSource struct {
	f    *rangeFetcher
	size int64
}

func (s fetchSource) Size() int64 { return s.size }

func (s fetchSource) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || int64(len(p)) > s.size-off {
		return 0, io.ErrUnexpectedEOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if err := s.f.fetch(uint64(off), p); err != nil {
		return 0, err
	}
	return len(p), nil
}
