package core

// #include <gdal.h>
import "C"

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/airbusgeo/godal"

	"github.com/cloudio-dem/cloudio/internal/raster"
	"github.com/cloudio-dem/cloudio/internal/stats"
	"github.com/cloudio-dem/cloudio/internal/storage"
	"github.com/cloudio-dem/cloudio/internal/tiff"
	"github.com/cloudio-dem/cloudio/internal/upload"
)

// cloudio's own encoder (internal/tiff) writes the COGs GDAL's COG driver
// would write, in one compression pass on every core, with the overviews
// reduced from the tiles as they go by. It does what it implements: DEFLATE,
// ZSTD or no compression, nearest or average overviews, callers' buffers and
// sources the direct decoder reads (so that damage is an error), without
// masks of their own or overviews to reuse. Everything else is GDAL's COG
// driver's, as before.

// cogEncoding is how encodeDataset writes a COG.
type cogEncoding struct {
	opts     []raster.Option // the COG creation options, validated, with cloudio's defaults
	extra    []string        // GDALTranslate arguments the COG driver would get (colour interpretation)
	metadata [][]string      // band metadata known up front (the statistics of a tile writer's windows)
	scan     bool            // compute the statistics from the tiles on the way
	progress ProgressFunc
}

// cogSource is a raster cloudio's encoder reads: a dataset (see
// datasetSource) or a caller's buffer (see bufferSource).
type cogSource struct {
	info   raster.Info
	user   string         // its name, for messages
	name   storage.Name   // what GDAL copies for the template...
	ds     C.GDALDatasetH // ... or this dataset, when not nil
	nodata []stats.NoData // of each band, as the statistics compare cells with it
	// units gives the bands of the template at the path its unit types
	// (nil: it has none).
	units func(template string) error
	// tiles reads the raster in side x side tiles, band-sequential, in its
	// own type, for many goroutines at once.
	tiles func(side int64) (tileSource, error)
}

// tileSource hands out tiles in order, to any goroutine (a TileReader).
type tileSource interface {
	Next(buf []byte) (Tile, bool, error)
	BufferLen() int64
	Close() error
}

// datasetSource is ds for the encoder; ok is false when ds has what only
// GDAL's COG driver reads or copies: a layout cloudio's decoder does not
// read (it is also the damage check), samples of fewer bits than their
// type, masks of its own or overviews to reuse.
func datasetSource(ds *Dataset) (src cogSource, ok bool, err error) {
	if ds.raw == nil || ds.nbits != 0 {
		return src, false, nil
	}
	if gdalOnly, err := gdalOnlyParts(ds); gdalOnly || err != nil {
		return src, false, err
	}
	return cogSource{info: ds.Info(), user: ds.name.User, name: ds.name, nodata: datasetNoData(ds),
		units: func(template string) error { return copyUnits(ds, template) },
		tiles: func(side int64) (tileSource, error) { return ds.squareTiles(side) }}, true, nil
}

// bufferSource is a caller's buffer of bands x rows x cols values of dtype
// (band-sequential, row-major) for the encoder; m is the MEM dataset GDAL
// sees over it, which the template is copied from.
func bufferSource(buf []byte, dtype raster.DType, bands, rows, cols int64, nodata *raster.NoData, m *memSource) cogSource {
	return cogSource{info: raster.Info{Rows: rows, Cols: cols, Bands: bands, DType: dtype}, user: "the buffer", ds: m.ds,
		nodata: sameNoData(nodata, bands),
		tiles: func(side int64) (tileSource, error) {
			tiling, err := raster.NewTiling(rows, cols, side, side, 0)
			if err != nil {
				return nil, err
			}
			return &bufferTiles{buf: buf, size: int64(dtype.Size()), bands: bands, rows: rows, cols: cols, tiling: tiling,
				tileLen: min(side, rows) * min(side, cols) * bands * int64(dtype.Size())}, nil
		}}
}

// bufferTiles cuts a buffer into the tiles of tiling, for many goroutines.
type bufferTiles struct {
	buf                     []byte
	size, bands, rows, cols int64
	tiling                  *raster.Tiling
	tileLen                 int64

	mu   sync.Mutex
	next uint64
}

func (b *bufferTiles) Next(dst []byte) (Tile, bool, error) {
	b.mu.Lock()
	i := b.next
	if i < b.tiling.Len() {
		b.next++
	}
	b.mu.Unlock()
	if i >= b.tiling.Len() {
		return Tile{}, false, nil
	}
	w := b.tiling.At(i)
	out := 0
	for band := int64(0); band < b.bands; band++ {
		for r := w.RowOff; r < w.RowOff+w.Rows; r++ {
			start := ((band*b.rows+r)*b.cols + w.ColOff) * b.size
			out += copy(dst[out:], b.buf[start:start+w.Cols*b.size])
		}
	}
	return Tile{Window: w, Padded: w}, true, nil
}

func (b *bufferTiles) BufferLen() int64 { return b.tileLen }
func (b *bufferTiles) Close() error     { return nil }

// encodeDataset is encodeCOG of ds, when the encoder reads it (see
// datasetSource).
func encodeDataset(ds *Dataset, c cogEncoding, out *storage.AtomicOutput) (encoded bool, err error) {
	src, ok, err := datasetSource(ds)
	if !ok || err != nil {
		return false, err
	}
	return encodeCOG(src, c, out)
}

// encodeCOG writes src as a COG for out with cloudio's encoder: into
// out.Tmp, or straight to its S3 object (see openSink); encoded is false,
// and nothing is written, when the encoder does not implement what c asks
// of this source.
func encodeCOG(src cogSource, c cogEncoding, out *storage.AtomicOutput) (encoded bool, err error) {
	cfg, ok := baseConfig(src.info, c.opts, out.Tmp)
	if !ok {
		return false, nil
	}
	run, ok, err := startEncoding(src, c, cfg, out)
	if !ok || err != nil {
		return ok, err
	}
	return true, run.finish(c.progress, func() error {
		md, err := encodeTiles(src, run.enc, run.cfg, c.scan)
		if err != nil {
			return err
		}
		return run.complete(md, out.Tmp)
	})
}

// encoding is a COG under way in cloudio's encoder.
type encoding struct {
	enc      *tiff.Encoder
	cfg      tiff.Config
	tmpl     *template
	cancel   context.CancelFunc
	relay    *progressRelay
	streamed bool // to out's object, not to out.Tmp
	out      *storage.AtomicOutput
}

// startEncoding readies the encoder for a COG of src for out, configured
// as cfg (see baseConfig) and src's template say; ok is false, with
// nothing written, when the encoder refuses the layout.
func startEncoding(src cogSource, c cogEncoding, cfg tiff.Config, out *storage.AtomicOutput) (run *encoding, ok bool, err error) {
	tmpl, err := newTemplate(src, c, out.Tmp)
	if err != nil {
		return nil, true, err
	}
	if cfg.Tags, err = tmpl.tags(c.metadata); err != nil {
		tmpl.remove()
		return nil, true, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	sink, streamed, err := openSink(ctx, out)
	if err != nil {
		cancel()
		tmpl.remove()
		return nil, true, err
	}
	run = &encoding{cfg: cfg, tmpl: tmpl, cancel: cancel, streamed: streamed, out: out,
		relay: &progressRelay{wake: make(chan struct{}, 1), ask: make(chan struct{}), answer: make(chan bool)}}
	run.cfg.Progress = run.relay.record
	if run.enc, err = tiff.NewEncoder(ctx, run.cfg, sink); err != nil { // a layout the encoder does not write (a photometric of its own, ...)
		sink.Abort()
		run.release()
		return nil, false, nil
	}
	return run, true, nil
}

// finish runs work, which hands the encoder every tile and then calls
// complete, while the caller's goroutine reports progress.
func (r *encoding) finish(progress ProgressFunc, work func() error) error {
	defer r.release()
	r.relay.active = progress != nil
	finished := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				r.enc.Abort()
				finished <- raster.Recovered(p)
			}
		}()
		err := work()
		if err != nil {
			r.enc.Abort()
		}
		finished <- err
	}()
	report := &progressState{fn: progress}
	if err := r.relay.forward(report, finished, r.cancel); err != nil {
		if p := report.err(); p != nil {
			return p
		}
		return err
	}
	if r.streamed {
		r.out.Streamed()
	}
	return nil
}

// complete puts the band metadata md (the statistics; nil for none) into
// the tags and finishes the file once the last progress report agrees
// (tmp names the file in errors: see AtomicOutput.Friendly).
func (r *encoding) complete(md [][]string, tmp string) error {
	if md != nil {
		tags, err := r.tmpl.tags(md)
		if err == nil {
			err = r.enc.SetMainTags(tags.Main)
		}
		if err != nil {
			return err
		}
	}
	if !r.relay.last() {
		return raster.Errorf(raster.StatusCancelled, "cancelled by the progress callback")
	}
	if err := r.enc.Finish(); err != nil {
		return raster.Errorf(raster.StatusIO, "cannot write COG %q: %v", tmp, err)
	}
	return nil
}

// abort discards the encoding.
func (r *encoding) abort() {
	r.enc.Abort()
	r.release()
}

func (r *encoding) release() {
	r.cancel()
	r.tmpl.remove()
}

// progressRelay carries the encoder's progress, counted on its workers, to
// the goroutine that called the write, which reports it: a caller's
// callback runs on the caller's thread, as when GDAL calls it. The last
// report (1) comes before the file is completed, so that a callback that
// stops there still leaves nothing behind, as with GDAL.
type progressRelay struct {
	active      bool // there is a callback
	done, total atomic.Int64
	wake        chan struct{} // capacity 1: a report is due
	ask         chan struct{} // the work asks for the last report
	answer      chan bool     // ... and learns whether to go on
}

func (r *progressRelay) record(done, total int64) {
	r.total.Store(total)
	r.done.Store(done)
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// last asks the caller's goroutine for the last report: whether to go on.
func (r *progressRelay) last() bool {
	if !r.active {
		return true
	}
	r.ask <- struct{}{}
	return <-r.answer
}

// forward reports progress to report until finished delivers the result of
// the work; a callback that asks to stop (or panics) cancels it.
func (r *progressRelay) forward(report *progressState, finished <-chan error, cancel func()) error {
	reported := int64(-1)
	goOn := func() bool { return report.fn != nil && !report.cancelled && report.panicked == nil }
	for {
		select {
		case err := <-finished:
			return err
		case <-r.wake:
			if done, total := r.done.Load(), r.total.Load(); goOn() && done != reported && done < total {
				reported = done
				if !report.call(float64(done)/float64(total), "") {
					cancel()
				}
			}
		case <-r.ask:
			ok := goOn() && report.call(1, "")
			if !ok {
				cancel()
			}
			r.answer <- ok
			return <-finished
		}
	}
}

// openSink is where the encoder writes a COG for out: straight to its S3
// object (a multipart upload) or Azure blob (blocks, then the block list)
// while it is encoded, when cloudio's own clients can upload it
// (storage.S3Upload, storage.AzureUpload); else the local file out.Tmp
// (which an object store's COG is uploaded from at Commit).
func openSink(ctx context.Context, out *storage.AtomicOutput) (sink tiff.Sink, streamed bool, err error) {
	if cfg, bucket, key, ok := storage.S3Upload(out.Dst); ok {
		s, err := upload.NewS3Sink(ctx, cfg, bucket, key)
		if err != nil {
			return nil, false, raster.Errorf(raster.StatusInvalidArgument, "cannot upload %q: %v", out.Dst, err)
		}
		return s, true, nil
	}
	if cfg, container, blob, ok := storage.AzureUpload(out.Dst); ok {
		s, err := upload.NewAzureSink(ctx, cfg, container, blob)
		if err != nil {
			return nil, false, raster.Errorf(raster.StatusInvalidArgument, "cannot upload %q: %v", out.Dst, err)
		}
		return s, true, nil
	}
	s, err := tiff.CreateFileSink(out.Tmp)
	if err != nil {
		return nil, false, raster.Errorf(raster.StatusIO, "cannot create %q: %v", out.Tmp, err)
	}
	return s, false, nil
}

// baseConfig is the encoder's configuration for a COG of info written
// with the creation options opts into tmp, without its tags; ok is false
// when the encoder does not implement what it takes.
func baseConfig(info raster.Info, opts []raster.Option, tmp string) (cfg tiff.Config, ok bool) {
	format, known := sampleFormat(info.DType)
	if storage.IsVSI(tmp) || !known {
		return cfg, false
	}
	cfg = tiff.Config{Width: info.Cols, Height: info.Rows, Bands: int(info.Bands), SampleFormat: format[0], BitsPerSample: format[1]}
	settings := make([]string, len(opts))
	for i, o := range opts {
		settings[i] = o.String()
	}
	return cfg, cfg.ApplyCOGOptions(settings) == nil
}

// sampleFormat is the TIFF sample format and size of d.
func sampleFormat(d raster.DType) ([2]int, bool) {
	for format, t := range sampleTypes {
		if t == d {
			return format, true
		}
	}
	return [2]int{}, false
}

// gdalOnlyParts reports whether ds has what only GDAL's COG driver copies:
// overviews it reuses, or a mask of its own (an internal or .msk mask, an
// alpha band).
func gdalOnlyParts(ds *Dataset) (bool, error) {
	h, err := openWithSiblings(ds.name, "overviews and masks")
	if err != nil {
		return false, err
	}
	defer h.Close()
	for _, b := range h.Bands() {
		if len(b.Overviews()) > 0 || b.MaskFlags()&(gmfAllValid|gmfNoData) == 0 {
			return true, nil
		}
	}
	return false, nil
}

// template is a 1 x 1 GeoTIFF copy of a raster, made by GDAL with the
// arguments the COG driver would get, whose tags (colour interpretation,
// colour table, nodata, metadata, georeferencing) the COG takes.
type template struct {
	name, user string
}

// newTemplate makes the template of src beside tmp, the file the COG is
// written to first.
func newTemplate(src cogSource, c cogEncoding, tmp string) (*template, error) {
	f, err := os.CreateTemp(filepath.Dir(tmp), ".cloudio-tags-*.tif")
	if err != nil {
		return nil, raster.Errorf(raster.StatusIO, "cannot write %q: %v", tmp, err)
	}
	f.Close()
	t := &template{name: f.Name(), user: src.user}
	args := append(append([]string{"-of", "GTiff", "-srcwin", "0", "0", "1", "1"}, c.extra...), overviewMetadataArgs(c.opts)...)
	err = translate(src.name, src.ds, nil, t.name, args, nil, fmt.Sprintf("cannot read the tags of %q", t.user))
	if err == nil && src.units != nil {
		err = src.units(t.name)
	}
	if err != nil {
		t.remove()
		return nil, err
	}
	return t, nil
}

// tags are the template's, with the band metadata md (nil for none).
// GDALTranslate drops the statistics of a copy of part of a raster: they
// go onto a whole copy of the template.
func (t *template) tags(md [][]string) (tiff.Tags, error) {
	if md == nil {
		return templateTags(t.name, t.user)
	}
	name := t.name + ".statistics.tif"
	defer os.Remove(name)
	if err := translate(storage.LocalName(t.name), nil, md, name, []string{"-of", "GTiff"}, nil, fmt.Sprintf("cannot record the statistics of %q", t.user)); err != nil {
		return tiff.Tags{}, err
	}
	return templateTags(name, t.user)
}

func (t *template) remove() { os.Remove(t.name) }

// copyUnits gives the bands of the GeoTIFF at name the unit types of ds's,
// which GDALTranslate drops from a copy of part of a raster.
func copyUnits(ds *Dataset, name string) error {
	h, err := ds.acquire()
	if err != nil {
		return err
	}
	defer ds.release(h)
	var ge gdalErrors
	t, err := godal.Open(name, godal.Update(), godal.ErrLogger(ge.handler()))
	if err != nil {
		return ge.Err(fmt.Sprintf("cannot open the tags of %q", ds.name.User), raster.StatusIO)
	}
	for b, band := range h.gdal.Bands() {
		if unit := unitType(band); unit != "" {
			if err := setUnitType(t.Bands()[b], unit); err != nil {
				t.Close()
				return err
			}
		}
	}
	if err := t.Close(godal.ErrLogger(ge.handler())); err != nil {
		return ge.Err(fmt.Sprintf("cannot write the tags of %q", ds.name.User), raster.StatusIO)
	}
	return nil
}

// templateTags are the tags of the GeoTIFF at name, a template of the
// raster the user calls user.
func templateTags(name, user string) (tiff.Tags, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return tiff.Tags{}, raster.Errorf(raster.StatusIO, "cannot read the tags of %q: %v", user, err)
	}
	f, err := tiff.Open(tiff.Bytes(b), tiff.DefaultLimits)
	if err == nil {
		var tags tiff.Tags
		if tags, err = tiff.TemplateTags(f); err == nil {
			return tags, nil
		}
	}
	return tiff.Tags{}, raster.Errorf(raster.StatusInternal, "the tags GDAL writes for %q: %v", user, err)
}

// encodeTiles reads every full-resolution tile of src and hands it to e, on
// every core; with withStats, it returns the statistics of every band as
// band metadata.
func encodeTiles(src cogSource, e *tiff.Encoder, cfg tiff.Config, withStats bool) ([][]string, error) {
	bs := int64(cfg.BlockSize)
	r, err := src.tiles(bs)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	info, nodata := src.info, src.nodata
	workers := runtime.NumCPU()
	partial := make([]*rasterStats, workers)
	var first error // the cause: the other workers fail because of it
	var once sync.Once
	fail := func(err error) {
		once.Do(func() { first = err })
		e.Abort() // the other workers stop at their next tile
	}
	var wg sync.WaitGroup
	for w := range workers {
		if withStats {
			partial[w] = newRasterStats(nodata, 0)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if p := recover(); p != nil {
					fail(raster.Recovered(p))
				}
			}()
			buf := make([]byte, r.BufferLen())
			for {
				t, ok, err := r.Next(buf)
				if err != nil {
					fail(err)
				}
				if err != nil || !ok {
					break
				}
				cells := int(t.Window.Rows * t.Window.Cols)
				if partial[w] != nil {
					partial[w].add(buf, info.DType, cells, nil)
				}
				tile := make([]byte, e.TileLen())
				interleaveTile(tile, buf, t.Window, int(info.Bands), info.DType.Size(), bs)
				if err := e.WriteTile(t.Window.ColOff/bs, t.Window.RowOff/bs, tile, nil); err != nil {
					fail(raster.Errorf(raster.StatusIO, "cannot encode the COG of %q: %v", src.user, err))
					break
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return nil, first
	}
	if !withStats {
		return nil, nil
	}
	total := newRasterStats(nodata, uint64(info.Rows*info.Cols))
	for _, p := range partial {
		total.merge(p)
	}
	return total.metadata(), nil
}

// interleaveTile puts the band-sequential cells of window win into tile,
// the encoder's rows of bs cells of every band together.
func interleaveTile(tile, cells []byte, win raster.Window, bands, size int, bs int64) {
	rows, cols := int(win.Rows), int(win.Cols)
	pixel, plane := bands*size, rows*cols*size
	for r := 0; r < rows; r++ {
		out := tile[r*int(bs)*pixel:]
		if bands == 1 {
			copy(out[:cols*size], cells[r*cols*size:])
			continue
		}
		for b := 0; b < bands; b++ {
			in := cells[b*plane+r*cols*size:]
			for c := 0; c < cols; c++ {
				copy(out[c*pixel+b*size:c*pixel+b*size+size], in[c*size:c*size+size])
			}
		}
	}
}
