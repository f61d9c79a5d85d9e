package storage

/*
#include <stdio.h>
#include <stdlib.h>
#include <cpl_vsi.h>
#include "gdalc.h"

// A file held open through GDAL's virtual file system, with its size;
// NULL when it cannot be opened.
// An open file and its size. Returned by value: C stores only into C
// memory (valgrind mistracks Go's heap, tests/valgrind.supp).
typedef struct {
  VSILFILE *fp;
  unsigned long long size;
} cloudioOpenSource;

static cloudioOpenSource cloudioSourceOpen(const char *name, cloudioErrors *errs) {
  cloudioErrorsBegin(errs);
  cloudioOpenSource src = {VSIFOpenL(name, "rb"), 0};
  if (src.fp != NULL && VSIFSeekL(src.fp, 0, SEEK_END) == 0) {
    src.size = VSIFTellL(src.fp);
  } else if (src.fp != NULL) {
    VSIFCloseL(src.fp);
    src.fp = NULL;
  }
  cloudioErrorsEnd(errs);
  return src;
}

// The number of bytes read, n unless the file ends or a read fails.
static size_t cloudioSourceRead(VSILFILE *fp, unsigned long long off, void *buf, size_t n, cloudioErrors *errs) {
  cloudioErrorsBegin(errs);
  size_t got = VSIFSeekL(fp, off, SEEK_SET) == 0 ? VSIFReadL(buf, 1, n, fp) : 0;
  cloudioErrorsEnd(errs);
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

// Source is random access to the bytes of one file (a tiff.Source): ReadAt
// follows io.ReaderAt; Size is the file's length.
type Source interface {
	io.ReaderAt
	Size() int64
}

// The Source of each kind of file cloudio reads itself: fileSource (a
// local file), VSISource (any name GDAL's virtual file system opens) and
// fetchSource (cloudio's own HTTP range fetcher, fetch.go).

// FileSources are where the direct decoder reads a file from: Header for
// its structure and Blocks for its blocks, each the fastest way for the
// name (the local file; for a URL, the header through GDAL's virtual file
// system, whose cache holds it since GDAL opened the file, and the blocks
// through cloudio's fetcher where it can).
type FileSources struct {
	Header, Blocks Source
	file           *os.File      // a local file's handle; nil otherwise
	vsi            *VSISource    // a file GDAL's virtual file system reads; nil otherwise
	fetcher        *rangeFetcher // nil: GDAL fetches the blocks of a remote file
}

// OpenFileSources opens the sources of the file n names, a regular file
// or object (which is its own store).
func OpenFileSources(n Name) (*FileSources, error) {
	s := &FileSources{}
	if n.Local {
		f, err := os.Open(n.GDAL)
		if err != nil {
			return nil, err
		}
		st, err := f.Stat()
		if err != nil || !st.Mode().IsRegular() {
			f.Close()
			return nil, ErrNotAFile
		}
		s.file = f
		s.Header = fileSource{f, st.Size()}
		s.Blocks = s.Header
		return s, nil
	}
	vsi, err := OpenVSISource(n.GDAL)
	if err != nil {
		return nil, err
	}
	s.vsi, s.Header, s.Blocks = vsi, vsi, vsi
	if s.fetcher = newRangeFetcher(n.GDAL); s.fetcher != nil {
		s.Blocks = fetchSource{s.fetcher, vsi.size}
	}
	return s, nil
}

// OwnFetcher reports whether the blocks come through cloudio's fetcher.
func (s *FileSources) OwnFetcher() bool { return s.fetcher != nil }

// Close releases the sources; closing a nil FileSources is harmless.
func (s *FileSources) Close() {
	if s == nil {
		return
	}
	s.fetcher.close()
	s.vsi.Close()
	if s.file != nil {
		s.file.Close()
	}
}

// fileSource is a local file.
type fileSource struct {
	*os.File
	size int64
}

func (s fileSource) Size() int64 { return s.size }

// VSISource is a file read through GDAL's virtual file system as a
// tiff.Source: local paths, /vsimem/ and every store GDAL reads, with the
// name's store options pinned around each read. A VSI handle serves one
// thread at a time, so concurrent reads (the direct decoder's) each take an
// idle handle, or open one; a serial reader (validate's) reuses one handle,
// and GDAL's /vsicurl/ then reads ahead and caches 16 KiB chunks, so a
// COG's header costs a request or two.
type VSISource struct {
	name   string
	size   int64
	mu     sync.Mutex
	idle   []*C.VSILFILE
	closed bool
}

// ErrNotAFile: the name exists but is a directory, prefix or bucket.
var ErrNotAFile = errors.New("not a file")

// OpenVSISource opens name (the GDAL name of a file or object, which is
// its own store): NOT_FOUND when it does not
// exist, ErrNotAFile for a directory, IO when it cannot be read.
func OpenVSISource(name string) (*VSISource, error) {
	if st, err := os.Stat(name); err == nil && st.IsDir() {
		return nil, ErrNotAFile
	}
	fp, size, why := openVSIHandle(name)
	if fp != nil {
		return &VSISource{name: name, size: size, idle: []*C.VSILFILE{fp}}, nil
	}
	if !PathExists(name) {
		if err := Unreachable(name); err != nil {
			return nil, raster.Errorf(raster.StatusIO, "cannot open %q: %s", name, err.Error())
		}
		return nil, raster.Errorf(raster.StatusNotFound, "%q does not exist", name)
	}
	if why == "" {
		return nil, ErrNotAFile
	}
	return nil, raster.Errorf(raster.StatusIO, "cannot open %q: %s", name, why)
}

// openVSIHandle is a handle on name and the file's size, or nil and why
// GDAL could not open it ("" when GDAL said nothing).
func openVSIHandle(name string) (*C.VSILFILE, int64, string) {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var src C.cloudioOpenSource
	r := vsiCall(name, func(errs *C.cloudioErrors) { src = C.cloudioSourceOpen(cname, errs) })
	return src.fp, int64(src.size), r.Said()
}

// ReadAt reads len(p) bytes at off (io.ReaderAt).
func (s *VSISource) ReadAt(p []byte, off int64) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	fp, err := s.take()
	if err != nil {
		return 0, err
	}
	defer s.put(fp)
	var got C.size_t
	r := vsiCall(s.name, func(errs *C.cloudioErrors) {
		got = C.cloudioSourceRead(fp, C.ulonglong(off), unsafe.Pointer(unsafe.SliceData(p)), C.size_t(len(p)), errs)
	})
	if int(got) == len(p) {
		return len(p), nil
	}
	if why := r.Said(); why != "" {
		return int(got), errors.New(why)
	}
	return int(got), io.EOF
}

// take is an idle handle, or a new one.
func (s *VSISource) take() (*C.VSILFILE, error) {
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
	fp, _, why := openVSIHandle(s.name)
	if fp == nil {
		return nil, errors.New(why)
	}
	return fp, nil
}

func (s *VSISource) put(fp *C.VSILFILE) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		C.VSIFCloseL(fp)
		return
	}
	s.idle = append(s.idle, fp)
}

// Size is the file's length.
func (s *VSISource) Size() int64 { return s.size }

// Close releases the handles (those in use when their read ends); closing
// twice, or a nil source, is harmless.
func (s *VSISource) Close() {
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
