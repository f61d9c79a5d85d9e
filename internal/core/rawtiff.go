package core

/*
#cgo CFLAGS: -O3
#include <stdlib.h>
#include "rawtiff.h"
*/
import "C"

import (
	"errors"
	"sync"
	"unsafe"
)

// directDecode enables the direct GeoTIFF block decoder (rawtiff.c); tests
// turn it off to compare with GDAL's own reads.
var directDecode = true

const (
	// mergeGap: blocks this close in the file are fetched in one request;
	// reading the gap costs less than another round trip (GDAL's COG driver
	// leaves 8 bytes between blocks).
	mergeGap = 64 << 10
	// maxRunBytes caps one request, so that a wide window still fetches in
	// parallel and no single buffer grows without bound.
	maxRunBytes = 8 << 20
)

// rawReader decodes GeoTIFF blocks directly, for every reader of a dataset
// at once: the raster is opened once, block offsets are looked up once per
// block row, each run of adjacent blocks of a window is fetched with one
// range read, and the runs are fetched and decoded in parallel. nil when the
// layout is not supported, and reads then go through GDAL.
type rawReader struct {
	c          *C.cloudioRaw
	name       string
	blockRows  int64
	blockCols  int64
	pixel      bool // pixel interleaved: every block holds every band
	scratchLen int
	requests   chan struct{} // bounds the range reads in flight
	scratch    *buffers      // decoded blocks
	fetched    *buffers      // fetched runs
	mu         sync.Mutex    // c's offset lookups, and index
	index      map[[2]int][]blockSpan
}

// blockSpan is where a block's bytes are in the file; n == 0 for a sparse
// block.
type blockSpan struct{ off, n uint64 }

// run is a range of the file holding consecutive blocks of one block row
// (or, for strips, of consecutive block rows).
type run struct {
	off, end uint64
	blocks   []runBlock
}

type runBlock struct {
	bx, by int
	span   blockSpan
}

// openRawReader opens name for direct decoding with at most inFlight range
// reads at once; nil when it cannot decode it.
func openRawReader(name string, inFlight int) *rawReader {
	if !directDecode {
		return nil
	}
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	c := C.cloudioRawOpen(cname)
	if c == nil {
		return nil
	}
	var br, bc, pixel C.int
	var scratch C.size_t
	C.cloudioRawLayout(c, &br, &bc, &pixel, &scratch)
	return &rawReader{c: c, name: name, blockRows: int64(br), blockCols: int64(bc), pixel: pixel != 0,
		scratchLen: int(scratch), requests: make(chan struct{}, inFlight), index: map[[2]int][]blockSpan{},
		scratch: newBuffers(2*inFlight, 1), fetched: newBuffers(2*inFlight, 1<<20)}
}

// blockRow returns the spans of block row by of band, looking them up the
// first time.
func (r *rawReader) blockRow(band, by int, across int) []blockSpan {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := [2]int{band, by}
	if spans, ok := r.index[key]; ok {
		return spans
	}
	offs, sizes := make([]C.ulonglong, across), make([]C.ulonglong, across)
	C.cloudioRawBlockRow(r.c, C.int(band), C.int(by), &offs[0], &sizes[0])
	spans := make([]blockSpan, across)
	for i := range spans {
		spans[i] = blockSpan{off: uint64(offs[i]), n: uint64(sizes[i])}
	}
	r.index[key] = spans
	return spans
}

// runs groups the blocks of w in one band into runs, in file order where the
// blocks allow it.
func (r *rawReader) runs(band int, w Window, rasterCols int64) []run {
	by0, by1 := int(w.RowOff/r.blockRows), int((w.RowOff+w.Rows-1)/r.blockRows)
	bx0, bx1 := int(w.ColOff/r.blockCols), int((w.ColOff+w.Cols-1)/r.blockCols)
	across := int((rasterCols + r.blockCols - 1) / r.blockCols)
	var out []run
	for by := by0; by <= by1; by++ {
		spans := r.blockRow(band, by, across)
		for bx := bx0; bx <= bx1; bx++ {
			b := runBlock{bx: bx, by: by, span: spans[bx]}
			if b.span.n == 0 {
				out = append(out, run{blocks: []runBlock{b}}) // sparse: nothing to fetch
				continue
			}
			if k := len(out) - 1; k >= 0 && out[k].end > 0 && b.span.off >= out[k].end &&
				b.span.off-out[k].end <= mergeGap && b.span.off+b.span.n-out[k].off <= maxRunBytes {
				out[k].end = b.span.off + b.span.n
				out[k].blocks = append(out[k].blocks, b)
				continue
			}
			out = append(out, run{off: b.span.off, end: b.span.off + b.span.n, blocks: []runBlock{b}})
		}
	}
	return out
}

// read reads window w of bands (1-based) into buf, band-sequential and
// row-major, in the raster's own type.
func (r *rawReader) read(w Window, bands []int, rasterCols int64, buf []byte) error {
	cb := make([]C.int, len(bands))
	for i, b := range bands {
		cb[i] = C.int(b)
	}
	type pass struct{ band, slot int }
	passes := []pass{{1, 0}}
	if !r.pixel {
		passes = passes[:0]
		for i, b := range bands {
			passes = append(passes, pass{b, i})
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	for _, p := range passes {
		for _, rn := range r.runs(p.band, w, rasterCols) {
			wg.Add(1)
			go func(rn run, slot int) {
				defer wg.Done()
				if err := r.readRun(rn, w, cb, slot, buf); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}(rn, p.slot)
		}
	}
	wg.Wait()
	select {
	case err := <-errs:
		return errorf(StatusIO, "cannot read window (row_off=%d, col_off=%d, n_rows=%d, n_cols=%d) of %q: %s",
			w.RowOff, w.ColOff, w.Rows, w.Cols, r.name, err.Error())
	default:
		return nil
	}
}

// readRun fetches one run and decodes its blocks into buf.
func (r *rawReader) readRun(rn run, w Window, bands []C.int, slot int, buf []byte) error {
	var msg [512]C.char
	var data []byte
	if rn.end > 0 {
		data = r.fetched.get(int(rn.end - rn.off))
		defer r.fetched.put(data)
		cname := C.CString(r.name)
		r.requests <- struct{}{}
		rc := C.cloudioRawFetch(cname, C.ulonglong(rn.off), C.size_t(len(data)), unsafe.Pointer(unsafe.SliceData(data)),
			&msg[0], C.size_t(len(msg)))
		<-r.requests
		C.free(unsafe.Pointer(cname))
		if rc != 0 {
			return errors.New(C.GoString(&msg[0]))
		}
	}
	scratch := r.scratch.get(r.scratchLen)
	defer r.scratch.put(scratch)
	for _, b := range rn.blocks {
		var p unsafe.Pointer
		if b.span.n > 0 {
			p = unsafe.Pointer(&data[b.span.off-rn.off])
		}
		if C.cloudioRawDecode(r.c, p, C.size_t(b.span.n), C.int(b.bx), C.int(b.by),
			C.longlong(w.RowOff), C.longlong(w.ColOff), C.longlong(w.Rows), C.longlong(w.Cols),
			&bands[0], C.int(len(bands)), C.int(slot), unsafe.Pointer(unsafe.SliceData(buf)),
			unsafe.Pointer(unsafe.SliceData(scratch)), &msg[0], C.size_t(len(msg))) != 0 {
			return errors.New(C.GoString(&msg[0]))
		}
	}
	return nil
}

func (r *rawReader) close() {
	if r != nil {
		C.cloudioRawClose(r.c)
	}
}
