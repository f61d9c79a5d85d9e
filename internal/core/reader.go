package core

import (
	"math"
	"runtime"
	"sync"
	"syscall"

	"github.com/cloudio-dem/cloudio/internal/cmem"
	"github.com/cloudio-dem/cloudio/internal/raster"
	"github.com/cloudio-dem/cloudio/internal/storage"
)

// Edge says how a halo is filled beyond the raster's edge.
type Edge int

const (
	EdgeReplicate Edge = 0 // repeat the outermost row or column
	EdgeNoData    Edge = 1 // the raster's nodata value
)

// remoteWorkersPerCore: a worker waiting on a network round trip uses no
// CPU, so object stores and HTTP get this many workers per core by default.
const remoteWorkersPerCore = 8

// defaultWorkers is how many reads of n run at once by default.
func defaultWorkers(n storage.Name) int {
	if n.Remote {
		return runtime.NumCPU() * remoteWorkersPerCore
	}
	return runtime.NumCPU()
}

// defaultPrefetch is how many tiles a reader with workers decodes ahead by
// default. Remote workers mostly wait on the network, and each already holds
// a tile: decoding further ahead than they reach only holds memory.
func defaultPrefetch(n storage.Name, workers int) int {
	if n.Remote {
		return workers
	}
	return 2 * workers
}

// ReaderOptions are the parameters of a TileReader; zero values take the
// defaults.
type ReaderOptions struct {
	TileRows, TileCols, Overlap int64
	Halo                        int64 // cells added on every side of each tile
	Edge                        Edge
	Spec                        raster.ReadSpec
	Workers                     int  // goroutines decoding; default: the core count
	Prefetch                    int  // tiles decoded ahead; default: defaultPrefetch
	Masks                       bool // each tile's data is followed by its bands' masks (see readMasks)
}

// Tile is one decoded tile: Window is the tile_windows window; Padded is
// the area the data covers, Window grown by the halo on every side.
type Tile struct {
	Window, Padded raster.Window
}

type tileJob struct {
	tile Tile
	buf  []byte
	err  error
	done chan struct{}
}

// TileReader decodes the tiles of a raster ahead of the caller, in parallel,
// and hands them out in tile_windows order. Memory stays bounded by
// Prefetch + 1 tiles, whatever the raster size.
type TileReader struct {
	ds       *Dataset
	borrowed bool // ds is the caller's: Close leaves it open
	tiling   *raster.Tiling
	opts     ReaderOptions
	fill     [][]byte // EdgeNoData: one cell of each band's nodata, in the buffer type

	order chan *tileJob // jobs in tiling order; its capacity bounds read-ahead
	stop  chan struct{}
	wg    sync.WaitGroup
	bufs  *cmem.Buffers

	mu          sync.Mutex // Next and Close
	next        uint64
	closed      bool
	failed      error
	dispatchErr error // set by dispatch before it closes order
}

// OpenTileReader opens name and starts decoding its tiles.
func OpenTileReader(name string, o ReaderOptions) (*TileReader, error) {
	ds, err := OpenDataset(name)
	if err != nil {
		return nil, err
	}
	r, err := newTileReader(ds, o)
	if err != nil {
		ds.Close()
		return nil, err
	}
	return r, nil
}

func newTileReader(ds *Dataset, o ReaderOptions) (*TileReader, error) {
	info := ds.Info()
	tiling, err := raster.NewTiling(info.Rows, info.Cols, o.TileRows, o.TileCols, o.Overlap)
	if err != nil {
		return nil, err
	}
	if o.Halo < 0 || o.Halo > raster.MaxRasterSide {
		return nil, raster.Errorf(raster.StatusInvalidArgument, "halo must be in 0..%d, got %d", raster.MaxRasterSide, o.Halo)
	}
	if o.Edge != EdgeReplicate && o.Edge != EdgeNoData {
		return nil, raster.Errorf(raster.StatusInvalidArgument, "unknown edge mode %d (0 = replicate, 1 = nodata)", o.Edge)
	}
	if o.Spec, err = o.Spec.Resolve(info); err != nil {
		return nil, err
	}
	var fill [][]byte
	if o.Edge == EdgeNoData && o.Halo > 0 {
		if fill, err = haloFill(ds, o.Spec); err != nil {
			return nil, err
		}
	}
	if o.Workers < 0 || o.Prefetch < 0 {
		return nil, raster.Errorf(raster.StatusInvalidArgument, "workers and prefetch must be >= 0 (0 picks the default)")
	}
	if o.Workers == 0 {
		o.Workers = defaultWorkers(ds.name)
	}
	if o.Prefetch == 0 {
		o.Prefetch = defaultPrefetch(ds.name, o.Workers)
	}
	r := &TileReader{ds: ds, tiling: tiling, opts: o, fill: fill,
		order: make(chan *tileJob, o.Prefetch), stop: make(chan struct{})}
	if n := r.BufferLen(); n > physicalMemory() {
		return nil, raster.Errorf(raster.StatusInvalidArgument, "a %d x %d tile with a halo of %d needs %d bytes, more than this machine's memory: use smaller tiles or a smaller halo",
			min(o.TileRows, info.Rows), min(o.TileCols, info.Cols), o.Halo, n)
	}
	// Tiles decoded ahead, being decoded, and being copied out.
	r.bufs = cmem.NewBuffers(o.Prefetch+o.Workers+1, int(r.BufferLen()))
	jobs := make(chan *tileJob)
	r.wg.Add(1 + o.Workers)
	go r.dispatch(jobs)
	for i := 0; i < o.Workers; i++ {
		go r.work(jobs)
	}
	return r, nil
}

// squareTiles reads every band of ds in its own type, in side x side tiles;
// closing the reader leaves ds open.
func (ds *Dataset) squareTiles(side int64) (*TileReader, error) {
	r, err := newTileReader(ds, ReaderOptions{TileRows: side, TileCols: side})
	if err != nil {
		return nil, err
	}
	r.borrowed = true
	return r, nil
}

// Info describes the raster being read.
func (r *TileReader) Info() raster.Info { return r.ds.Info() }

// Len is the number of tiles.
func (r *TileReader) Len() uint64 { return r.tiling.Len() }

// BufferLen is the size of the largest tile's buffer; tiles are clipped at
// the raster's edge.
func (r *TileReader) BufferLen() int64 {
	info := r.ds.Info()
	return r.tileLen(raster.Window{Rows: min(r.opts.TileRows, info.Rows) + 2*r.opts.Halo, Cols: min(r.opts.TileCols, info.Cols) + 2*r.opts.Halo})
}

// tileLen is the size of a padded tile's buffer: its data, then its masks.
func (r *TileReader) tileLen(padded raster.Window) int64 {
	n := r.opts.Spec.BufferLen(padded)
	if r.opts.Masks {
		n = addLen(n, raster.ReadSpec{DType: raster.Byte, Bands: r.opts.Spec.Bands}.BufferLen(padded))
	}
	return n
}

// haloFill is each band's nodata as the reader's buffers hold it: stored in
// the raster's type, then converted to the buffer's type as GDAL converts
// the nodata cells inside the raster.
func haloFill(ds *Dataset, spec raster.ReadSpec) ([][]byte, error) {
	fill := make([][]byte, len(spec.Bands))
	for i, b := range spec.Bands {
		nd := ds.noData[b-1]
		if !nd.ok {
			return nil, raster.Errorf(raster.StatusInvalidArgument, "edge mode nodata needs a nodata value, and band %d of %q has none: use edge replicate", b, ds.Name())
		}
		cell, err := raster.EncodeValue(spec.DType, spec.DType.Convert(ds.Info().BandType(b).Convert(nd.value.Float)))
		if err != nil {
			return nil, err
		}
		fill[i] = cell
	}
	return fill, nil
}

func (r *TileReader) tile(i uint64) Tile {
	w := r.tiling.At(i)
	h := r.opts.Halo
	return Tile{Window: w, Padded: raster.Window{RowOff: w.RowOff - h, ColOff: w.ColOff - h, Rows: w.Rows + 2*h, Cols: w.Cols + 2*h}}
}

func (r *TileReader) dispatch(jobs chan<- *tileJob) {
	defer r.wg.Done()
	defer close(jobs)
	defer close(r.order)
	defer func() { // before the closes: Next reads dispatchErr once r.order is closed
		if p := recover(); p != nil {
			r.dispatchErr = raster.Recovered(p)
		}
	}()
	for i := uint64(0); i < r.tiling.Len(); i++ {
		raster.FaultPoint("reader.dispatch")
		job := &tileJob{tile: r.tile(i), done: make(chan struct{})}
		select {
		case r.order <- job:
		case <-r.stop:
			return
		}
		select {
		case jobs <- job:
		case <-r.stop:
			job.err = raster.Errorf(raster.StatusCancelled, "reader closed")
			close(job.done)
			return
		}
	}
}

// work decodes jobs: with a GDAL handle of its own, unless the direct
// decoder (shared by every worker) serves them.
func (r *TileReader) work(jobs <-chan *tileJob) {
	defer r.wg.Done()
	var h *handle
	var err error
	if !r.ds.direct(r.opts.Spec) || r.opts.Masks { // masks are read through GDAL
		if h, err = r.ds.acquire(); h != nil {
			defer r.ds.release(h)
		}
	}
	for job := range jobs {
		if job.err = err; err == nil {
			job.err = r.decode(h, job)
		}
		close(job.done)
	}
}

// decode reads one job's tile, and its masks when the reader delivers
// them, through h (nil for the direct decoder); a panic becomes the job's
// error.
func (r *TileReader) decode(h *handle, job *tileJob) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = raster.Recovered(p)
		}
	}()
	raster.FaultPoint("reader.work")
	job.buf = r.bufs.Get(int(r.tileLen(job.tile.Padded)))
	data := r.opts.Spec.BufferLen(job.tile.Padded)
	read := func(w raster.Window, buf []byte) error { return r.ds.read(h, w, r.opts.Spec, buf) }
	if err := r.readPadded(read, job.tile.Padded, r.opts.Spec.DType.Size(), r.fill, job.buf[:data]); err != nil || !r.opts.Masks {
		return err
	}
	readMasks := func(w raster.Window, buf []byte) error { return r.ds.readMasks(h, w, r.opts.Spec.Bands, buf) }
	return r.readPadded(readMasks, job.tile.Padded, 1, maskedCells(len(r.opts.Spec.Bands)), job.buf[data:])
}

// readPadded reads the part of padded inside the raster with read (cells
// of size bytes) and fills the rest as the edge mode says (with fill's
// cells for EdgeNoData).
func (r *TileReader) readPadded(read func(raster.Window, []byte) error, padded raster.Window, size int, fill [][]byte, buf []byte) error {
	info := r.ds.Info()
	inner := raster.Window{RowOff: max(padded.RowOff, 0), ColOff: max(padded.ColOff, 0)}
	inner.Rows = min(padded.RowOff+padded.Rows, info.Rows) - inner.RowOff
	inner.Cols = min(padded.ColOff+padded.Cols, info.Cols) - inner.ColOff
	if inner == padded {
		return read(padded, buf)
	}
	tmp := r.bufs.Get(int(raster.ReadSpec{DType: raster.Byte, Bands: r.opts.Spec.Bands}.BufferLen(inner)) * size)
	defer r.bufs.Put(tmp)
	if err := read(inner, tmp); err != nil {
		return err
	}
	pad := raster.Padding{Size: size, Bands: len(r.opts.Spec.Bands), Outer: padded, Inner: inner}
	if r.opts.Edge == EdgeNoData {
		pad.FillConstant(buf, tmp, fill)
		return nil
	}
	pad.Replicate(buf, tmp)
	return nil
}

// Next copies the next tile into buf (at least the tile's size, see
// BufferLen) band-sequential and row-major, and returns it; ok is false
// after the last tile.
func (r *TileReader) Next(buf []byte) (t Tile, ok bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.closed:
		return t, false, raster.Errorf(raster.StatusInvalidArgument, "reader is closed")
	case r.failed != nil:
		return t, false, r.failed
	case r.next >= r.tiling.Len():
		return t, false, nil
	}
	t = r.tile(r.next)
	if need := r.tileLen(t.Padded); int64(len(buf)) < need {
		return t, false, raster.Errorf(raster.StatusInvalidArgument, "buffer holds %d bytes, but tile %d (row_off=%d, col_off=%d, n_rows=%d, n_cols=%d) needs %d",
			len(buf), r.next, t.Window.RowOff, t.Window.ColOff, t.Window.Rows, t.Window.Cols, need)
	}
	job, ok := <-r.order
	if !ok { // the dispatcher stopped early: it panicked
		r.failed = r.dispatchErr
		if r.failed == nil {
			r.failed = raster.Errorf(raster.StatusInternal, "internal error (a bug in cloudio, please report it): the reader stopped at tile %d of %d", r.next, r.tiling.Len())
		}
		return t, false, r.failed
	}
	<-job.done
	defer r.recycle(job)
	if job.err != nil {
		r.failed = job.err
		return t, false, job.err
	}
	copy(buf, job.buf)
	r.next++
	return t, true, nil
}

// Close stops the workers and releases the raster. Closing twice is an
// error.
func (r *TileReader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return raster.Errorf(raster.StatusInvalidArgument, "reader is already closed")
	}
	r.closed = true
	close(r.stop)
	drained := make(chan error, 1)
	go func() { // unblock the dispatcher and let the workers finish their jobs
		var err error
		defer func() {
			if p := recover(); p != nil {
				err = raster.Recovered(p)
			}
			drained <- err
		}()
		for job := range r.order {
			<-job.done
			r.recycle(job)
		}
	}()
	r.wg.Wait()
	err := <-drained
	r.bufs.Close()
	if r.borrowed {
		return err
	}
	if closeErr := r.ds.Close(); err == nil {
		err = closeErr
	}
	return err
}

// physicalMemory bounds a tile buffer: a larger allocation would kill the
// process on a worker goroutine, where it cannot be reported.
func physicalMemory() int64 {
	var si syscall.Sysinfo_t
	if syscall.Sysinfo(&si) != nil {
		return math.MaxInt64
	}
	return int64(si.Totalram) * int64(si.Unit)
}

// recycle takes back a finished job's buffer.
func (r *TileReader) recycle(job *tileJob) {
	if job.buf != nil {
		r.bufs.Put(job.buf)
		job.buf = nil
	}
}
