package core

/*
#cgo CFLAGS: -O3
#include <stdlib.h>
#include "rawtiff.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
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
	maxRunBytes = 2 << 20
	// sharedBlockBytes bounds the decoded blocks kept for the windows that
	// share them: two rows of 1024-row tiles of an 8192-wide striped Float32
	// raster.
	sharedBlockBytes = 64 << 20
)

// rawReader decodes GeoTIFF blocks directly, for every reader of a dataset
// at once: the raster is opened once, block offsets are looked up once per
// block row, each run of adjacent blocks of a window is fetched with one
// range read, and the runs are fetched and decoded in parallel. nil when the
// layout is not supported, and reads then go through GDAL.
type rawReader struct {
	c          *C.cloudioRaw
	name       string
	rows, cols int64
	blockRows  int64
	blockCols  int64
	pixel      bool // pixel interleaved: every block holds every band
	blockLen   int  // bytes of a decoded block
	rowLen     int  // bytes of one of its rows
	// runs go to a fixed pool of goroutines, as many as range reads may be
	// in flight. Long-lived goroutines also keep valgrind's view of their
	// stacks, which it loses for fresh ones (make test-c).
	runs chan runTask
	pool sync.WaitGroup
	// decoders bounds the runs decoding at once to the core count: more
	// would only time-slice, and finish the tile the caller waits for later.
	decoders chan struct{}
	scratch  *buffers      // decoded blocks, and a row after each (one per decoder)
	fetched  *buffers      // fetched runs: in flight, or waiting for a decoder
	fetcher  *rangeFetcher // nil: GDAL fetches the runs
	mu       sync.Mutex    // c's offset lookups, and index
	index    map[[2]int][]blockSpan
	shared   sharedBlocks
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

// openRawReader opens name for direct decoding with at most inFlight range
// reads at once; nil when it cannot decode it.
func openRawReader(name string, inFlight int) *rawReader {
	if !directDecode {
		return nil
	}
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var c *C.cloudioRaw
	pinned(name, func() { c = C.cloudioRawOpen(cname) })
	if c == nil {
		return nil
	}
	var rows, cols, br, bc, pixel C.int
	var blockLen, rowLen C.size_t
	C.cloudioRawLayout(c, &rows, &cols, &br, &bc, &pixel, &blockLen, &rowLen)
	r := &rawReader{c: c, name: name, rows: int64(rows), cols: int64(cols), blockRows: int64(br), blockCols: int64(bc),
		pixel: pixel != 0, shared: sharedBlocks{blocks: map[blockKey]*sharedBlock{}},
		blockLen: int(blockLen), rowLen: int(rowLen), runs: make(chan runTask),
		decoders: make(chan struct{}, runtime.NumCPU()),
		fetcher:  newRangeFetcher(name),
		index:    map[[2]int][]blockSpan{}, scratch: newBuffers(runtime.NumCPU(), 1), fetched: newBuffers(2*inFlight+runtime.NumCPU(), 1<<20)}
	r.pool.Add(inFlight)
	for i := 0; i < inFlight; i++ {
		go r.serve()
	}
	return r
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
	pinned(r.name, func() { C.cloudioRawBlockRow(r.c, C.int(band), C.int(by), &offs[0], &sizes[0]) })
	spans := make([]blockSpan, across)
	for i := range spans {
		spans[i] = blockSpan{off: uint64(offs[i]), n: uint64(sizes[i])}
	}
	r.index[key] = spans
	return spans
}

// blockKey names a block of a band (band 1 for every band when pixel
// interleaved).
type blockKey struct{ band, bx, by int }

// sharedBlock is a decoded block that windows other than the one that
// fetched it also need: a strip wider than the tiles, a block under a halo.
// The first window to need it fetches and decodes it; the others wait for
// ready. Its C memory is freed when the last of the cache and the windows
// using it lets go (refs).
type sharedBlock struct {
	ready   chan struct{}
	once    sync.Once
	decoded []byte
	rows    int // rows decoded, 0 for a sparse block
	err     error
	refs    int // guarded by sharedBlocks.mu
}

// sharedBlocks keeps the last sharedBlockBytes of shared blocks, oldest out
// first.
type sharedBlocks struct {
	mu     sync.Mutex
	blocks map[blockKey]*sharedBlock
	fifo   []cachedBlock
	bytes  int
}

type cachedBlock struct {
	key   blockKey
	block *sharedBlock
}

// claim returns k's block, and whether the caller must fetch it; either way
// the caller releases it when done.
func (s *sharedBlocks) claim(k blockKey) (*sharedBlock, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b, ok := s.blocks[k]; ok {
		b.refs++
		return b, false
	}
	b := &sharedBlock{ready: make(chan struct{}), refs: 2} // the cache's and the caller's
	s.blocks[k] = b
	return b, true
}

// finish publishes k's block (the first call wins); a failed one is
// forgotten, so that a later read tries again.
func (s *sharedBlocks) finish(k blockKey, b *sharedBlock, decoded []byte, rows int, err error) {
	b.once.Do(func() {
		b.decoded, b.rows, b.err = decoded, rows, err
		close(b.ready)
		s.mu.Lock()
		defer s.mu.Unlock()
		if err != nil {
			s.forget(k, b)
			return
		}
		s.fifo = append(s.fifo, cachedBlock{k, b})
		for s.bytes += len(decoded); s.bytes > sharedBlockBytes && len(s.fifo) > 0; s.fifo = s.fifo[1:] {
			s.bytes -= len(s.fifo[0].block.decoded)
			s.forget(s.fifo[0].key, s.fifo[0].block)
		}
	})
}

// forget drops the cache's reference to b; s.mu is held.
func (s *sharedBlocks) forget(k blockKey, b *sharedBlock) {
	if s.blocks[k] == b {
		delete(s.blocks, k)
	}
	s.drop(b)
}

func (s *sharedBlocks) drop(b *sharedBlock) {
	if b.refs--; b.refs == 0 && b.decoded != nil {
		freeC(b.decoded)
	}
}

// release drops a caller's reference.
func (s *sharedBlocks) release(b *sharedBlock) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drop(b)
}

// close frees every cached block; no read may be in progress.
func (s *sharedBlocks) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, b := range s.blocks {
		s.forget(k, b)
	}
	s.fifo, s.bytes = nil, 0
}

// runBlock is a block a read fetches; shared is set when the read fetches
// it for other windows too.
type runBlock struct {
	key    blockKey
	span   blockSpan
	shared *sharedBlock
}

// waitBlock is a shared block another read fetches.
type waitBlock struct {
	key    blockKey
	shared *sharedBlock
}

// plan groups the blocks of w in one band into runs, in file order where the
// blocks allow it, and lists the shared blocks other reads fetch.
func (r *rawReader) plan(band int, w Window) (runs []run, waits []waitBlock) {
	by0, by1 := int(w.RowOff/r.blockRows), int((w.RowOff+w.Rows-1)/r.blockRows)
	bx0, bx1 := int(w.ColOff/r.blockCols), int((w.ColOff+w.Cols-1)/r.blockCols)
	across := int((r.cols + r.blockCols - 1) / r.blockCols)
	for by := by0; by <= by1; by++ {
		spans := r.blockRow(band, by, across)
		for bx := bx0; bx <= bx1; bx++ {
			b := runBlock{key: blockKey{band, bx, by}, span: spans[bx]}
			if !r.inside(bx, by, w) {
				var mine bool
				if b.shared, mine = r.shared.claim(b.key); !mine {
					waits = append(waits, waitBlock{b.key, b.shared})
					continue
				}
			}
			if b.span.n == 0 {
				runs = append(runs, run{blocks: []runBlock{b}}) // sparse: nothing to fetch
				continue
			}
			if k := len(runs) - 1; k >= 0 && runs[k].end > 0 && b.span.off >= runs[k].end &&
				b.span.off-runs[k].end <= mergeGap && b.span.off+b.span.n-runs[k].off <= maxRunBytes {
				runs[k].end = b.span.off + b.span.n
				runs[k].blocks = append(runs[k].blocks, b)
				continue
			}
			runs = append(runs, run{off: b.span.off, end: b.span.off + b.span.n, blocks: []runBlock{b}})
		}
	}
	return runs, waits
}

// inside reports whether block (bx, by) lies inside w, so that no other
// window of a tiling needs it.
func (r *rawReader) inside(bx, by int, w Window) bool {
	r0, c0 := int64(by)*r.blockRows, int64(bx)*r.blockCols
	r1, c1 := min(r0+r.blockRows, r.rows), min(c0+r.blockCols, r.cols)
	return r0 >= w.RowOff && c0 >= w.ColOff && r1 <= w.RowOff+w.Rows && c1 <= w.ColOff+w.Cols
}

// window is where a read's blocks go.
type window struct {
	w     Window
	bands []C.int
	buf   []byte
}

func (r *rawReader) place(dst window, key blockKey, slot int, decoded []byte, rows int) {
	C.cloudioRawPlace(r.c, unsafe.Pointer(unsafe.SliceData(decoded)), C.int(rows), C.int(key.bx), C.int(key.by),
		C.longlong(dst.w.RowOff), C.longlong(dst.w.ColOff), C.longlong(dst.w.Rows), C.longlong(dst.w.Cols),
		&dst.bands[0], C.int(len(dst.bands)), C.int(slot), unsafe.Pointer(unsafe.SliceData(dst.buf)))
}

// read reads window w of bands (1-based) into buf, band-sequential and
// row-major, in the raster's own type.
func (r *rawReader) read(w Window, bands []int, buf []byte) error {
	dst := window{w: w, bands: make([]C.int, len(bands)), buf: buf}
	for i, b := range bands {
		dst.bands[i] = C.int(b)
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
	report := func(err error) {
		select {
		case errs <- err:
		default:
		}
	}
	type wait struct {
		waitBlock
		slot int
	}
	var waits []wait
	for _, p := range passes {
		runs, ws := r.plan(p.band, w)
		for _, wb := range ws {
			waits = append(waits, wait{wb, p.slot})
		}
		for _, rn := range runs {
			wg.Add(1)
			r.runs <- runTask{rn, dst, p.slot, func(err error) {
				if err != nil {
					report(err)
				}
				wg.Done()
			}}
		}
	}
	// Every shared block this read fetches is published by now, so that
	// waiting on the others cannot deadlock.
	wg.Wait()
	for _, wb := range waits {
		<-wb.shared.ready
		if wb.shared.err != nil {
			report(wb.shared.err)
		} else {
			r.place(dst, wb.key, wb.slot, wb.shared.decoded, wb.shared.rows)
		}
		r.shared.release(wb.shared)
	}
	select {
	case err := <-errs:
		return errorf(StatusIO, "cannot read window (row_off=%d, col_off=%d, n_rows=%d, n_cols=%d) of %q: %s",
			w.RowOff, w.ColOff, w.Rows, w.Cols, r.name, err.Error())
	default:
		return nil
	}
}

// runTask is a run to fetch and decode into dst; done receives the outcome.
type runTask struct {
	run  run
	dst  window
	slot int
	done func(error)
}

func (r *rawReader) serve() {
	defer r.pool.Done()
	for t := range r.runs {
		t.done(r.readRun(t.run, t.dst, t.slot))
	}
}

// readRun fetches one run and decodes its blocks into dst, publishing the
// shared ones.
func (r *rawReader) readRun(rn run, dst window, slot int) (err error) {
	defer func() { // a failed run still publishes its shared blocks, with the error
		for _, b := range rn.blocks {
			if b.shared != nil {
				r.shared.finish(b.key, b.shared, nil, 0, err)
				r.shared.release(b.shared)
			}
		}
	}()
	var msg [512]C.char
	var data []byte
	if rn.end > 0 {
		data = r.fetched.get(int(rn.end - rn.off))
		defer r.fetched.put(data)
		if err := r.fetch(rn.off, data); err != nil {
			return err
		}
	}
	r.decoders <- struct{}{}
	defer func() { <-r.decoders }()
	scratch := r.scratch.get(r.blockLen + r.rowLen)
	defer r.scratch.put(scratch)
	block, row := unsafe.Pointer(unsafe.SliceData(scratch)), unsafe.Pointer(&scratch[r.blockLen])
	for _, b := range rn.blocks {
		var p unsafe.Pointer
		if b.span.n > 0 {
			p = unsafe.Pointer(&data[b.span.off-rn.off])
		}
		if b.shared == nil {
			if C.cloudioRawDecodeInto(r.c, p, C.size_t(b.span.n), C.int(b.key.bx), C.int(b.key.by),
				C.longlong(dst.w.RowOff), C.longlong(dst.w.ColOff), C.longlong(dst.w.Rows), C.longlong(dst.w.Cols),
				&dst.bands[0], C.int(len(dst.bands)), C.int(slot), unsafe.Pointer(unsafe.SliceData(dst.buf)),
				block, row, &msg[0], C.size_t(len(msg))) != 0 {
				return errors.New(C.GoString(&msg[0]))
			}
			continue
		}
		decoded := allocC(r.blockLen, r.blockLen)
		var rows C.int
		if C.cloudioRawDecodeBlock(r.c, p, C.size_t(b.span.n), C.int(b.key.by), unsafe.Pointer(unsafe.SliceData(decoded)),
			row, &rows, &msg[0], C.size_t(len(msg))) != 0 {
			freeC(decoded)
			return errors.New(C.GoString(&msg[0]))
		}
		r.shared.finish(b.key, b.shared, decoded, int(rows), nil)
		r.place(dst, b.key, slot, decoded, int(rows))
	}
	return nil
}

// fetch reads len(data) bytes at off: over HTTP by itself for a remote
// file it can, through GDAL's virtual file system otherwise.
func (r *rawReader) fetch(off uint64, data []byte) error {
	if r.fetcher != nil {
		if err := r.fetcher.fetch(off, data); err != nil {
			return fmt.Errorf("cannot read %d bytes at offset %d: %w", len(data), off, err)
		}
		return nil
	}
	var msg [512]C.char
	cname := C.CString(r.name)
	defer C.free(unsafe.Pointer(cname))
	var rc C.int
	pinned(r.name, func() {
		rc = C.cloudioRawFetch(cname, C.ulonglong(off), C.size_t(len(data)), unsafe.Pointer(unsafe.SliceData(data)),
			&msg[0], C.size_t(len(msg)))
	})
	if rc != 0 {
		return errors.New(C.GoString(&msg[0]))
	}
	return nil
}

func (r *rawReader) close() {
	if r != nil {
		close(r.runs)
		r.pool.Wait()
		C.cloudioRawClose(r.c)
		r.shared.close()
		r.scratch.close()
		r.fetched.close()
		r.fetcher.close()
	}
}
