package core

/*
#include <stdlib.h>
#include "translate.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"github.com/airbusgeo/godal"

	"github.com/cloudio-dem/cloudio/internal/cmem"
	"github.com/cloudio-dem/cloudio/internal/raster"
	"github.com/cloudio-dem/cloudio/internal/stats"
	"github.com/cloudio-dem/cloudio/internal/storage"
)

// Every writer records each band's STATISTICS_MINIMUM, _MAXIMUM, _MEAN,
// _STDDEV and _VALID_PERCENT in the COG's metadata (GDAL 3.6's COG driver
// cannot compute them), so that gdalinfo, QGIS and web viewers need no scan.
// The tile writer computes them from the windows as they are written; a
// COG written from a buffer, from the buffer; one written from a file, by
// reading the file once before GDAL does (a pass that also checks every
// block of the raster for damage, see WriteCOG). The option STATISTICS=NO (the
// name GDAL 3.8's COG driver gives it) turns this off.

// statisticsOption takes STATISTICS=YES|NO out of o's options (the COG
// driver of GDAL 3.6 does not know it) and says whether statistics are on.
func statisticsOption(o COGOptions) (COGOptions, bool, error) {
	return takeSwitch(o, "STATISTICS", true)
}

// takeSwitch takes cloudio's own option key=YES|NO out of o's options, and
// says whether it is on (on when it is not given).
func takeSwitch(o COGOptions, name string, on bool) (COGOptions, bool, error) {
	rest := make([]string, 0, len(o.Options))
	for _, kv := range o.Options {
		key, value, _ := strings.Cut(kv, "=")
		if !strings.EqualFold(strings.TrimSpace(key), name) {
			rest = append(rest, kv)
			continue
		}
		switch strings.ToUpper(strings.TrimSpace(value)) {
		case "YES", "TRUE", "ON", "1":
			on = true
		case "NO", "FALSE", "OFF", "0":
			on = false
		default:
			return o, false, raster.Errorf(raster.StatusInvalidArgument, "invalid value %q for option %s (expected YES or NO)", value, name)
		}
	}
	o.Options = rest
	return o, on, nil
}

// statisticsStep computes the statistics a COG records, before GDAL
// writes it; it takes the first share of the write's progress.
type statisticsStep struct {
	share float64
	run   func(ProgressFunc) ([][]string, error)
	// decoded is set by a run that read every block of the raster
	// through its direct decoder (which fails on a damaged block).
	decoded bool
}

// metadata runs the step (none when s is nil): the items of every band,
// and the progress function for the rest of the write.
func (s *statisticsStep) metadata(progress ProgressFunc) ([][]string, ProgressFunc, error) {
	if s == nil {
		return nil, progress, nil
	}
	var own ProgressFunc
	if progress != nil {
		own, progress = scaledProgress(progress, 0, s.share), scaledProgress(progress, s.share, 1)
	}
	md, err := s.run(own)
	return md, progress, err
}

// decodedRaster reports whether the step ran and read every block of the
// raster through the direct decoder.
func (s *statisticsStep) decodedRaster() bool { return s != nil && s.decoded }

// datasetStatistics reads ds for its statistics (about a tenth of the time
// of writing it); ds stays open.
func datasetStatistics(ds *Dataset) *statisticsStep {
	s := &statisticsStep{share: 0.1}
	s.run = func(p ProgressFunc) ([][]string, error) {
		md, err := scanStatistics(ds, p)
		s.decoded = md != nil && ds.raw != nil // the scan reads every band in the raster's own type
		return md, err
	}
	return s
}

// rasterStats accumulates the statistics of every band of a raster.
type rasterStats struct {
	bands  []stats.Band
	nodata []stats.NoData
	cells  uint64 // of one band, valid or not
}

func newRasterStats(nodata []stats.NoData, cells uint64) *rasterStats {
	return &rasterStats{bands: make([]stats.Band, len(nodata)), nodata: nodata, cells: cells}
}

// add accumulates band-sequential cells of dtype, n per band, with masks
// (one per band, nil entries or a nil slice for none).
func (r *rasterStats) add(buf []byte, dtype raster.DType, n int, masks [][]byte) {
	size := n * dtype.Size()
	for b := range r.bands {
		var mask []byte
		if masks != nil {
			mask = masks[b]
		}
		addCells(&r.bands[b], buf[b*size:(b+1)*size], dtype, r.nodata[b], mask)
	}
}

// merge adds o's cells to r.
func (r *rasterStats) merge(o *rasterStats) {
	for b := range r.bands {
		r.bands[b].Merge(o.bands[b])
	}
}

// metadata is each band's items, as GDAL writes them.
func (r *rasterStats) metadata() [][]string {
	out := make([][]string, len(r.bands))
	for b, band := range r.bands {
		out[b] = band.Metadata(r.cells)
	}
	return out
}

// addCells accumulates cells of dtype into b.
func addCells(b *stats.Band, cells []byte, dtype raster.DType, nd stats.NoData, mask []byte) {
	switch v := typedSlice(cells, dtype).(type) {
	case []uint8:
		stats.Add(b, v, nd, mask)
	case []int8:
		stats.Add(b, v, nd, mask)
	case []uint16:
		stats.Add(b, v, nd, mask)
	case []int16:
		stats.Add(b, v, nd, mask)
	case []uint32:
		stats.Add(b, v, nd, mask)
	case []int32:
		stats.Add(b, v, nd, mask)
	case []uint64:
		stats.Add(b, v, nd, mask)
	case []int64:
		stats.Add(b, v, nd, mask)
	case []float32:
		stats.Add(b, v, nd, mask)
	case []float64:
		stats.Add(b, v, nd, mask)
	}
}

// statsNoData is nodata as the statistics compare cells with it.
func statsNoData(nodata raster.NoData) stats.NoData {
	return stats.NoData{Value: nodata.Float, Int: nodata.Int, Set: true}
}

// datasetNoData is the nodata of each band of ds, as the statistics compare
// cells with it.
func datasetNoData(ds *Dataset) []stats.NoData {
	nodata := make([]stats.NoData, len(ds.noData))
	for b, nd := range ds.noData {
		if nd.ok {
			nodata[b] = statsNoData(nd.value)
		}
	}
	return nodata
}

// sameNoData is one nodata value (or none) for each of n bands.
func sameNoData(nodata *raster.NoData, n int64) []stats.NoData {
	out := make([]stats.NoData, n)
	if nodata != nil {
		for i := range out {
			out[i] = statsNoData(*nodata)
		}
	}
	return out
}

// bufferStatistics are the statistics of a band-sequential buffer, on every
// core.
func bufferStatistics(buf []byte, dtype raster.DType, bands, rows, cols int64, nodata *raster.NoData) [][]string {
	total := newRasterStats(sameNoData(nodata, bands), uint64(rows*cols))
	per := rows * cols
	chunk := max(1<<20, per/int64(runtime.NumCPU())+1)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for b := int64(0); b < bands; b++ {
		for off := int64(0); off < per; off += chunk {
			n := min(chunk, per-off)
			start := (b*per + off) * int64(dtype.Size())
			wg.Add(1)
			go func() {
				defer wg.Done()
				var part stats.Band
				addCells(&part, buf[start:start+n*int64(dtype.Size())], dtype, total.nodata[b], nil)
				mu.Lock()
				total.bands[b].Merge(part)
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	return total.metadata()
}

// scanTile is the side of the tiles a scan reads (a multiple of every
// usual block size).
const scanTile = 1024

// scanStatistics reads every cell of ds once, in its own type (nodata and
// masked cells excluded), for its statistics, reporting progress; nil
// statistics for a type cloudio does not read.
func scanStatistics(ds *Dataset, progress ProgressFunc) ([][]string, error) {
	r, err := ds.squareTiles(scanTile)
	if raster.StatusOf(err) == raster.StatusUnsupported {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer r.Close()
	info := r.Info()
	nodata := datasetNoData(ds)
	masks, err := openMasks(r.ds.name, info.Bands)
	if err != nil {
		return nil, err
	}
	defer masks.close()

	// The reader decodes on every core; the sums are spread over as many
	// goroutines, each with a buffer of its own.
	type job struct {
		tile  Tile
		buf   []byte
		masks [][]byte
	}
	workers := runtime.NumCPU()
	free, jobs := make(chan *job, workers), make(chan *job)
	partial := make([]*rasterStats, workers)
	var wg sync.WaitGroup
	all := make([]*job, workers)
	defer func() { // after finish (deferred below): no worker holds a job then
		for _, j := range all {
			releaseMasks(j.masks)
		}
	}()
	for w := range workers {
		all[w] = &job{buf: make([]byte, r.BufferLen())}
		free <- all[w]
		partial[w] = newRasterStats(nodata, 0)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				partial[w].add(j.buf, info.DType, int(j.tile.Window.Rows*j.tile.Window.Cols), j.masks)
				free <- j
			}
		}()
	}
	finish := sync.OnceFunc(func() { close(jobs); wg.Wait() })
	report := progressState{fn: progress}
	defer finish()
	for done := uint64(0); ; done++ {
		j := <-free
		t, ok, err := r.Next(j.buf)
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		j.tile = t
		if j.masks, err = masks.read(t.Window, j.masks); err != nil {
			return nil, err
		}
		jobs <- j
		if report.fn != nil && !report.call(float64(done+1)/float64(r.Len()), "") {
			return nil, report.err()
		}
	}
	finish()
	total := newRasterStats(nodata, uint64(info.Rows*info.Cols))
	for _, p := range partial {
		total.merge(p)
	}
	return total.metadata(), nil
}

// bandMasks reads the mask bands GDAL gives a raster's bands, for those
// whose mask is a band of its own (an internal or external mask, or alpha),
// not derived from nodata or all valid.
type bandMasks struct {
	ds    *godal.Dataset
	bands []*godal.Band // nil: no mask of its own
}

func openMasks(n storage.Name, bands int64) (*bandMasks, error) {
	ds, err := openWithSiblings(n, "masks")
	if err != nil {
		return nil, err
	}
	m := &bandMasks{ds: ds, bands: make([]*godal.Band, bands)}
	found := false
	for i, b := range ds.Bands() {
		if b.MaskFlags()&(gmfAllValid|gmfNoData) == 0 {
			mask := b.MaskBand()
			m.bands[i], found = &mask, true
		}
	}
	if !found {
		ds.Close()
		return nil, nil
	}
	return m, nil
}

// openWithSiblings opens n with its sidecar files (a .msk mask, .ovr
// overviews), which godal hides by default but GDAL's COG driver sees; what
// names the part of n wanted, for errors.
func openWithSiblings(n storage.Name, what string) (*godal.Dataset, error) {
	var ge gdalErrors
	var ds *godal.Dataset
	var err error
	storage.Pinned(n.Store, func() {
		ds, err = godal.Open(n.GDAL, godal.RasterOnly(), godal.SiblingFiles(), godal.ErrLogger(ge.handler()))
	})
	if err != nil {
		return nil, ge.Err(fmt.Sprintf("cannot open the %s of %q", what, n.GDAL), raster.StatusIO)
	}
	return ds, nil
}

// GDAL's mask flags (gdal.h).
const (
	gmfAllValid = 0x01
	gmfNoData   = 0x08
)

// read fills bufs (reused when large enough) with window w of every mask;
// nil without masks.
func (m *bandMasks) read(w raster.Window, bufs [][]byte) ([][]byte, error) {
	if m == nil {
		return nil, nil
	}
	n := int(w.Rows * w.Cols)
	if bufs == nil {
		bufs = make([][]byte, len(m.bands))
	}
	for i, band := range m.bands {
		if band == nil {
			bufs[i] = nil
			continue
		}
		if cap(bufs[i]) < n {
			if bufs[i] != nil {
				cmem.Free(bufs[i])
			}
			bufs[i] = cmem.Alloc(n, n) // GDAL writes it: C memory, which valgrind follows (make test-c)
		}
		bufs[i] = bufs[i][:n]
		var ge gdalErrors
		if err := band.Read(int(w.ColOff), int(w.RowOff), bufs[i], int(w.Cols), int(w.Rows), godal.ErrLogger(ge.handler())); err != nil {
			return nil, ge.Err(fmt.Sprintf("cannot read the mask of band %d", i+1), raster.StatusIO)
		}
	}
	return bufs, nil
}

// releaseMasks frees the buffers read filled.
func releaseMasks(bufs [][]byte) {
	for _, b := range bufs {
		if b != nil {
			cmem.Free(b)
		}
	}
}

func (m *bandMasks) close() {
	if m != nil {
		m.ds.Close()
	}
}

// windowStats are the statistics of a tile writer's windows, with what it
// takes to tell whether they are the file's: the windows must not overlap
// (a later write replaces cells already counted), and the cells never
// written read as nodata (not counted) or as 0.
type windowStats struct {
	mu      sync.Mutex
	spec    WriterSpec
	total   *rasterStats
	windows [][4]uint32
	masked  bool // a mask, not the cells, tells which count: read the file
}

func newWindowStats(spec WriterSpec) *windowStats {
	return &windowStats{spec: spec, total: newRasterStats(sameNoData(spec.Georef.NoData, spec.Bands), uint64(spec.Rows*spec.Cols))}
}

// add accumulates a window's cells (band-sequential, the writer's type).
func (s *windowStats) add(win raster.Window, buf []byte) {
	part := newRasterStats(s.total.nodata, 0)
	part.add(buf, s.spec.DType, int(win.Rows*win.Cols), nil)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total.merge(part)
	s.windows = append(s.windows, [4]uint32{uint32(win.RowOff), uint32(win.ColOff), uint32(win.Rows), uint32(win.Cols)})
}

// maskedOut records a window whose cells a mask excludes rather than nodata.
func (s *windowStats) maskedOut() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.masked = true
}

// maxCoverageCells bounds the grid the overlap check marks (bits).
const maxCoverageCells = 1 << 28

// metadata is the statistics of the file the windows make, or nil when the
// windows alone cannot tell (they overlap, or a mask rather than the cells
// tells which count): then the staging file must be read.
func (s *windowStats) metadata() [][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	written, ok := disjointArea(s.windows)
	if !ok || s.masked {
		return nil
	}
	total := *s.total
	total.bands = slices.Clone(s.total.bands)
	// Cells never written read as the nodata value (which the writer's
	// type holds: NoData.In), not counted, or else as 0.
	if unwritten := total.cells - written; unwritten > 0 && s.spec.Georef.NoData == nil {
		for b := range total.bands {
			total.bands[b].Merge(stats.Band{N: unwritten}) // zeros
		}
	}
	return total.metadata()
}

// disjointArea is the number of cells the windows cover, and whether no two
// of them overlap. The windows are marked on the grid of their own edges,
// one bit per grid cell; a grid too large to mark counts as overlapping.
func disjointArea(windows [][4]uint32) (uint64, bool) {
	edges := func(off, size int) []uint32 {
		var e []uint32
		for _, w := range windows {
			e = append(e, w[off], w[off]+w[size])
		}
		slices.Sort(e)
		return slices.Compact(e)
	}
	rowEdges, colEdges := edges(0, 2), edges(1, 3)
	if len(windows) == 0 {
		return 0, true
	}
	across := len(colEdges) - 1
	if uint64(len(rowEdges)-1)*uint64(across) > maxCoverageCells {
		return 0, false
	}
	marked := make([]uint64, ((len(rowEdges)-1)*across+63)/64)
	var area uint64
	for _, w := range windows {
		r0, _ := slices.BinarySearch(rowEdges, w[0])
		r1, _ := slices.BinarySearch(rowEdges, w[0]+w[2])
		c0, _ := slices.BinarySearch(colEdges, w[1])
		c1, _ := slices.BinarySearch(colEdges, w[1]+w[3])
		for r := r0; r < r1; r++ {
			for c := c0; c < c1; c++ {
				i := r*across + c
				if marked[i/64]&(1<<(i%64)) != 0 {
					return 0, false
				}
				marked[i/64] |= 1 << (i % 64)
			}
		}
		area += uint64(w[2]) * uint64(w[3])
	}
	return area, true
}

// cBandMetadata is per-band KEY=VALUE items as cloudioTranslate takes
// them, in C memory (cgo forbids Go pointers inside it); free releases it.
type cBandMetadata struct{ c *C.cloudioBandMetadata }

func newCBandMetadata(items [][]string) cBandMetadata {
	if len(items) == 0 {
		return cBandMetadata{}
	}
	md := (*C.cloudioBandMetadata)(C.calloc(1, C.size_t(unsafe.Sizeof(C.cloudioBandMetadata{}))))
	md.n_bands = C.int(len(items))
	md.items = (***C.char)(C.calloc(C.size_t(len(items)), C.size_t(unsafe.Sizeof((**C.char)(nil)))))
	bands := unsafe.Slice(md.items, len(items))
	for b, list := range items {
		bands[b] = (**C.char)(C.calloc(C.size_t(len(list)+1), C.size_t(unsafe.Sizeof((*C.char)(nil)))))
		for i, kv := range list {
			unsafe.Slice(bands[b], len(list)+1)[i] = C.CString(kv)
		}
	}
	return cBandMetadata{md}
}

func (m cBandMetadata) free() {
	if m.c == nil {
		return
	}
	for _, list := range unsafe.Slice(m.c.items, int(m.c.n_bands)) {
		for p := list; *p != nil; p = (**C.char)(unsafe.Add(unsafe.Pointer(p), unsafe.Sizeof(p))) {
			C.free(unsafe.Pointer(*p))
		}
		C.free(unsafe.Pointer(list))
	}
	C.free(unsafe.Pointer(m.c.items))
	C.free(unsafe.Pointer(m.c))
}
