package tiff

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"

	"github.com/cloudio-dem/cloudio/internal/cmem"
)

const (
	// mergeGap: blocks this close in the file are fetched in one read;
	// reading the gap costs less than another round trip (GDAL's COG driver
	// leaves 8 bytes between blocks).
	mergeGap = 64 << 10
	// MaxRunBytes caps one read of several blocks, so that a wide window
	// still fetches in parallel and no single buffer grows without bound.
	MaxRunBytes = 2 << 20
	// sharedBlockBytes bounds the decoded blocks kept for the windows that
	// share them: two rows of 1024-row tiles of an 8192-wide striped Float32
	// raster.
	sharedBlockBytes = 64 << 20
)

// Reader reads windows of one image for any number of goroutines at once:
// block offsets are looked up once per block row, each run of adjacent
// blocks of a window is fetched with one read of its Source, and the runs
// are fetched and decoded in parallel. Blocks that several windows need (a
// strip wider than the tiles, a block under a halo) are fetched and decoded
// once and shared.
type Reader struct {
	dec    *Decoder
	blocks Source // where block bytes are fetched from (offsets come through the image's file)
	// runs go to a fixed pool of goroutines, as many as reads of blocks may
	// be in flight. Long-lived goroutines also keep valgrind's view of their
	// stacks, which it loses for fresh ones (make test-c).
	runs chan runTask
	pool sync.WaitGroup
	// decoders bounds the runs decoding at once to the core count: more
	// would only time-slice, and finish the window the caller waits for later.
	decoders chan struct{}
	scratch  *cmem.Buffers // decoded blocks, and a row after each (one per decoder)
	fetched  *cmem.Buffers // fetched runs: in flight, or waiting for a decoder
	mu       sync.Mutex    // index
	index    map[[2]int64][]Span
	shared   sharedBlocks
}

// NewReader reads the blocks of dec's image from blocks (which may be
// another Source over the same file than the image's), with at most
// inFlight reads at once. Close it when done.
func NewReader(dec *Decoder, blocks Source, inFlight int) *Reader {
	inFlight = max(inFlight, 1)
	r := &Reader{dec: dec, blocks: blocks, runs: make(chan runTask),
		decoders: make(chan struct{}, runtime.NumCPU()),
		scratch:  cmem.NewBuffers(runtime.NumCPU(), 1), fetched: cmem.NewBuffers(2*inFlight+runtime.NumCPU(), 1<<20),
		index: map[[2]int64][]Span{}, shared: sharedBlocks{blocks: map[blockKey]*sharedBlock{}}}
	r.pool.Add(inFlight)
	for i := 0; i < inFlight; i++ {
		go r.serve()
	}
	return r
}

// Image is the image r reads.
func (r *Reader) Image() *Image { return r.dec.im }

// blockRow returns the spans of block row by of plane, looking them up the
// first time; a block larger than its layout allows is an error.
func (r *Reader) blockRow(plane, by int64) ([]Span, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := [2]int64{plane, by}
	if spans, ok := r.index[key]; ok {
		return spans, nil
	}
	im := r.dec.im
	spans, err := im.Spans(int(plane), by, 0, im.BlocksAcross())
	if err != nil {
		return nil, err
	}
	limit := r.dec.MaxEncodedLen()
	for bx, s := range spans {
		if s.N > limit {
			return nil, malformed("IFD %d: %s claims %d bytes, more than the %d a block of %d decoded bytes can take",
				im.IFD.Index, im.blockName(int64(bx), by, plane), s.N, limit, im.BlockLen())
		}
	}
	r.index[key] = spans
	return spans, nil
}

// blockKey names a block of a plane.
type blockKey struct{ plane, bx, by int64 }

// sharedBlock is a decoded block that windows other than the one that
// fetched it also need. The first window to need it fetches and decodes
// it; the others wait for ready. Its C memory is freed when the last of the
// cache and the windows using it lets go (refs).
type sharedBlock struct {
	ready   chan struct{}
	once    sync.Once
	decoded []byte
	rows    int64 // rows decoded, 0 for a sparse block
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
func (s *sharedBlocks) finish(k blockKey, b *sharedBlock, decoded []byte, rows int64, err error) {
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
		cmem.Free(b.decoded)
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

// run is a range of the file holding consecutive blocks of one block row
// (or, for strips, of consecutive block rows).
type run struct {
	off, end uint64
	blocks   []runBlock
}

// runBlock is a block a read fetches; shared is set when the read fetches
// it for other windows too.
type runBlock struct {
	key    blockKey
	span   Span
	shared *sharedBlock
}

// waitBlock is a shared block another read fetches.
type waitBlock struct {
	key    blockKey
	shared *sharedBlock
	slot   int
}

// plan groups the blocks of w in one plane into runs, in file order where
// the blocks allow it, and lists the shared blocks other reads fetch. On
// error, nothing is claimed.
func (r *Reader) plan(plane int64, slot int, w Window) (runs []run, waits []waitBlock, err error) {
	im := r.dec.im
	by0, by1 := w.RowOff/im.BlockHeight, (w.RowOff+w.Rows-1)/im.BlockHeight
	bx0, bx1 := w.ColOff/im.BlockWidth, (w.ColOff+w.Cols-1)/im.BlockWidth
	rows := make([][]Span, 0, by1-by0+1)
	for by := by0; by <= by1; by++ {
		spans, err := r.blockRow(plane, by)
		if err != nil {
			return nil, nil, err
		}
		rows = append(rows, spans)
	}
	for by := by0; by <= by1; by++ {
		spans := rows[by-by0]
		for bx := bx0; bx <= bx1; bx++ {
			b := runBlock{key: blockKey{plane, bx, by}, span: spans[bx]}
			if !r.inside(bx, by, w) {
				var mine bool
				if b.shared, mine = r.shared.claim(b.key); !mine {
					waits = append(waits, waitBlock{b.key, b.shared, slot})
					continue
				}
			}
			if b.span.N == 0 {
				runs = append(runs, run{blocks: []runBlock{b}}) // sparse: nothing to fetch
				continue
			}
			// Spans are inside the file (Image.Spans checked them), so
			// none of these sums wraps around.
			if k := len(runs) - 1; k >= 0 && runs[k].end > 0 && b.span.Off >= runs[k].end &&
				b.span.Off-runs[k].end <= mergeGap && b.span.Off+b.span.N-runs[k].off <= MaxRunBytes {
				runs[k].end = b.span.Off + b.span.N
				runs[k].blocks = append(runs[k].blocks, b)
				continue
			}
			runs = append(runs, run{off: b.span.Off, end: b.span.Off + b.span.N, blocks: []runBlock{b}})
		}
	}
	return runs, waits, nil
}

// inside reports whether block (bx, by) lies inside w, so that no other
// window of a tiling needs it.
func (r *Reader) inside(bx, by int64, w Window) bool {
	im := r.dec.im
	r0, c0 := by*im.BlockHeight, bx*im.BlockWidth
	r1, c1 := min(r0+im.BlockHeight, im.Height), min(c0+im.BlockWidth, im.Width)
	return r0 >= w.RowOff && c0 >= w.ColOff && r1 <= w.RowOff+w.Rows && c1 <= w.ColOff+w.Cols
}

// Read reads window w of samples (0-based) into out, band-sequential and
// row-major, in the image's own sample type; out must hold exactly that.
// A malformed or damaged block is an error that names it.
func (r *Reader) Read(w Window, samples []int, out []byte) error {
	t, err := r.dec.check(w, samples, out)
	if err != nil {
		return err
	}
	defer t.done()
	type pass struct {
		plane int64
		slot  int
	}
	im := r.dec.im
	passes := []pass{{0, 0}} // pixel interleaved: every block holds every sample
	if im.Planar == PlanarSeparate || im.SamplesPerPixel == 1 {
		passes = passes[:0]
		for i, s := range samples {
			passes = append(passes, pass{int64(min(s, im.Planes()-1)), i})
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
	var waits []waitBlock
	for _, p := range passes {
		runs, ws, err := r.plan(p.plane, p.slot, w)
		if err != nil {
			report(err)
			break
		}
		waits = append(waits, ws...)
		for _, rn := range runs {
			wg.Add(1)
			r.runs <- runTask{rn, t, p.slot, func(err error) {
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
			r.dec.place(wb.shared.decoded, wb.shared.rows, wb.key.bx, wb.key.by, t, wb.slot)
		}
		r.shared.release(wb.shared)
	}
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// runTask is a run to fetch and decode into t's slot; done receives the
// outcome.
type runTask struct {
	run  run
	t    *target
	slot int
	done func(error)
}

func (r *Reader) serve() {
	defer r.pool.Done()
	for task := range r.runs {
		task.done(r.readRun(task.run, task.t, task.slot))
	}
}

// Panic is a panic recovered on a goroutine of the reader: a bug, reported
// as the read's error instead of ending the process.
type Panic struct {
	Value any
	Stack []byte
}

func (p *Panic) Error() string { return fmt.Sprintf("panic: %v\n%s", p.Value, p.Stack) }

// readRun fetches one run and decodes its blocks into t, publishing the
// shared ones; a panic becomes its error.
func (r *Reader) readRun(rn run, t *target, slot int) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &Panic{p, debug.Stack()}
		}
		// A failed run still publishes its shared blocks, with the error.
		for _, b := range rn.blocks {
			if b.shared != nil {
				r.shared.finish(b.key, b.shared, nil, 0, err)
				r.shared.release(b.shared)
			}
		}
	}()
	im := r.dec.im
	var data []byte
	if rn.end > 0 {
		data = r.fetched.Get(int(rn.end - rn.off))
		defer r.fetched.Put(data)
		if err := readFull(r.blocks, data, int64(rn.off)); err != nil {
			b := rn.blocks[0].key
			return fmt.Errorf("IFD %d: %s: %w", im.IFD.Index, im.blockName(b.bx, b.by, b.plane), err)
		}
	}
	r.decoders <- struct{}{}
	defer func() { <-r.decoders }()
	buf, s := r.dec.newScratch(r.scratch)
	defer r.scratch.Put(buf)
	for _, b := range rn.blocks {
		var block []byte
		if b.span.N > 0 {
			block = data[b.span.Off-rn.off : b.span.Off-rn.off+b.span.N]
		}
		if t == nil { // Check
			err = r.dec.checkBlock(block, b.key.by, s)
		} else if b.shared == nil {
			err = r.dec.decodeInto(block, b.key.bx, b.key.by, t, slot, s)
		} else {
			decoded := cmem.Alloc(int(im.BlockLen()), int(im.BlockLen()))
			var rows int64
			if rows, err = r.dec.decodeBlock(block, b.key.by, decoded, s); err != nil {
				cmem.Free(decoded)
			} else {
				r.shared.finish(b.key, b.shared, decoded, rows, nil)
				r.dec.place(decoded, rows, b.key.bx, b.key.by, t, slot)
			}
		}
		if err != nil {
			return fmt.Errorf("IFD %d: %s: %s", im.IFD.Index, im.blockName(b.key.bx, b.key.by, b.key.plane), err)
		}
	}
	return nil
}

// Check decodes every block of the image, to find damage: the first block
// that does not decode is the error, named. It reads as Read does, several
// runs at once, and gives up early with a nil error when stop is closed.
func (r *Reader) Check(stop <-chan struct{}) error {
	im := r.dec.im
	// Enough block rows at once for the runs of one batch to keep every
	// reader busy; each batch's spans are looked up as it starts.
	batch := max(1, 256/im.BlocksAcross())
	for plane := int64(0); plane < int64(im.Planes()); plane++ {
		for by := int64(0); by < im.BlocksDown(); by += batch {
			select {
			case <-stop:
				return nil
			default:
			}
			rows := min(batch*im.BlockHeight, im.Height-by*im.BlockHeight)
			runs, _, err := r.plan(plane, 0, Window{RowOff: by * im.BlockHeight, Rows: rows, Cols: im.Width})
			if err != nil {
				return err
			}
			errs := make(chan error, len(runs))
			for _, rn := range runs {
				r.runs <- runTask{rn, nil, 0, func(err error) { errs <- err }}
			}
			for range runs {
				if err := <-errs; err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// Close stops the reader's goroutines and frees its memory; no read may be
// in progress. It closes neither Source nor the decoder.
func (r *Reader) Close() {
	if r != nil {
		close(r.runs)
		r.pool.Wait()
		r.shared.close()
		r.scratch.Close()
		r.fetched.Close()
	}
}
