package core

import (
	"sync"

	"github.com/cloudio-dem/cloudio/internal/raster"
	"github.com/cloudio-dem/cloudio/internal/storage"
	"github.com/cloudio-dem/cloudio/internal/tiff"
)

// tileStream is a tile writer's COG encoded while its windows arrive (the
// writer option STREAM=YES): a tile goes to cloudio's encoder as soon as
// every cell of it has been written, so that no staging file holds the
// raster and a COG bound for S3 is uploaded as it is computed. The price is
// the rule that makes it possible: a window may overlap earlier ones only
// in tiles not yet complete.
type tileStream struct {
	spec   WriterSpec
	cog    []raster.Option // the COG creation options
	cfg    tiff.Config     // the encoder's, without its tags
	side   int64
	across int64
	fill   []byte // one cell of the nodata value, nil without one: cells never written are it, or 0

	// The fields below are guarded by the writer's mutex.
	pending map[int64]*tileCells // tiles written in part
	sent    []bool               // tiles handed to the encoder
	mask    bool                 // the output has a per-dataset mask
	run     *encoding            // nil until the first tile is complete

	sending sync.WaitGroup // tiles handed over outside the mutex

	statsMu sync.Mutex
	stats   *rasterStats // nil without statistics
}

// tileCells gathers the cells of one tile, band-sequential.
type tileCells struct {
	tx, ty  int64
	win     raster.Window // the tile's cells inside the raster
	cells   []byte
	mask    []byte // one byte per cell, 0 = no data; nil while every written cell is valid
	written []bool
	count   int64
}

// streamOption takes STREAM=YES|NO out of o.
func streamOption(o COGOptions) (COGOptions, bool, error) { return takeSwitch(o, "STREAM", false) }

// newTileStream is the stream of a writer of spec with the COG creation
// options cog into out, or nil when cloudio's encoder does not implement
// them (the writer then stages its windows).
func newTileStream(spec WriterSpec, cog []raster.Option, out *storage.AtomicOutput, noData []byte, withStats bool) *tileStream {
	info := raster.Info{Rows: spec.Rows, Cols: spec.Cols, Bands: spec.Bands, DType: spec.DType}
	cfg, ok := baseConfig(info, cog, out.Tmp)
	if !ok {
		return nil
	}
	side := int64(cfg.BlockSize)
	s := &tileStream{spec: spec, cog: cog, cfg: cfg, side: side, across: (spec.Cols + side - 1) / side, fill: noData, pending: map[int64]*tileCells{}}
	s.sent = make([]bool, s.across*((spec.Rows+side-1)/side))
	if withStats {
		s.stats = newRasterStats(sameNoData(spec.Georef.NoData, spec.Bands), uint64(spec.Rows*spec.Cols))
	}
	return s
}

// write stores window win of buf (band-sequential) and mask (one byte per
// cell, nil: all valid); it returns the tiles it completed, which the
// caller hands to send without holding the writer's mutex.
func (s *tileStream) write(win raster.Window, buf, mask []byte) ([]*tileCells, error) {
	if mask != nil && !s.mask {
		if s.run != nil {
			return nil, raster.Errorf(raster.StatusInvalidArgument, "window (row_off=%d, col_off=%d, n_rows=%d, n_cols=%d) masks cells, but tiles of the output were already encoded without a mask: give the writer a nodata value, or mask a window before the first tile is complete",
				win.RowOff, win.ColOff, win.Rows, win.Cols)
		}
		s.mask = true
	}
	var complete []*tileCells
	for ty := win.RowOff / s.side; ty <= (win.RowOff+win.Rows-1)/s.side; ty++ {
		for tx := win.ColOff / s.side; tx <= (win.ColOff+win.Cols-1)/s.side; tx++ {
			if s.sent[ty*s.across+tx] {
				return nil, raster.Errorf(raster.StatusInvalidArgument, "window (row_off=%d, col_off=%d, n_rows=%d, n_cols=%d) writes into tile (row %d, col %d) of the output, whose cells were all written and encoded already: with STREAM=YES a window may overlap others only in tiles not yet complete",
					win.RowOff, win.ColOff, win.Rows, win.Cols, ty, tx)
			}
		}
	}
	for ty := win.RowOff / s.side; ty <= (win.RowOff+win.Rows-1)/s.side; ty++ {
		for tx := win.ColOff / s.side; tx <= (win.ColOff+win.Cols-1)/s.side; tx++ {
			i := ty*s.across + tx
			t, ok := s.pending[i]
			if !ok {
				t = s.newTile(tx, ty)
				s.pending[i] = t
			}
			t.put(win, buf, mask, s.spec.Bands, int64(s.spec.DType.Size()))
			if t.count == t.win.Rows*t.win.Cols {
				delete(s.pending, i)
				s.sent[i] = true
				complete = append(complete, t)
			}
		}
	}
	return complete, nil
}

// newTile is tile (tx, ty) with no cell written.
func (s *tileStream) newTile(tx, ty int64) *tileCells {
	win := raster.Window{RowOff: ty * s.side, ColOff: tx * s.side}
	win.Rows, win.Cols = min(s.side, s.spec.Rows-win.RowOff), min(s.side, s.spec.Cols-win.ColOff)
	cells := win.Rows * win.Cols
	t := &tileCells{tx: tx, ty: ty, win: win, cells: make([]byte, cells*s.spec.Bands*int64(s.spec.DType.Size())), written: make([]bool, cells)}
	if s.fill != nil {
		for i := 0; i < len(t.cells); i += len(s.fill) {
			copy(t.cells[i:], s.fill)
		}
	}
	return t
}

// put copies the part of window win (buf, mask as in tileStream.write)
// inside the tile, counting the cells written for the first time.
func (t *tileCells) put(win raster.Window, buf, mask []byte, bands, size int64) {
	r0, r1 := max(win.RowOff, t.win.RowOff), min(win.RowOff+win.Rows, t.win.RowOff+t.win.Rows)
	c0, c1 := max(win.ColOff, t.win.ColOff), min(win.ColOff+win.Cols, t.win.ColOff+t.win.Cols)
	if mask != nil && t.mask == nil {
		t.mask = t.writtenMask()
	}
	n := (c1 - c0) * size
	for r := r0; r < r1; r++ {
		in := (r-win.RowOff)*win.Cols + c0 - win.ColOff
		at := (r-t.win.RowOff)*t.win.Cols + c0 - t.win.ColOff
		for b := int64(0); b < bands; b++ {
			from := (b*win.Rows*win.Cols + in) * size
			to := (b*t.win.Rows*t.win.Cols + at) * size
			copy(t.cells[to:to+n], buf[from:from+n])
		}
		switch {
		case mask != nil:
			copy(t.mask[at:at+c1-c0], mask[in:in+c1-c0])
		case t.mask != nil:
			for i := at; i < at+c1-c0; i++ {
				t.mask[i] = 255
			}
		}
		for i := at; i < at+c1-c0; i++ {
			if !t.written[i] {
				t.written[i] = true
				t.count++
			}
		}
	}
}

// writtenMask is the mask of a tile whose written cells are all valid.
func (t *tileCells) writtenMask() []byte {
	mask := make([]byte, len(t.written))
	for i, w := range t.written {
		if w {
			mask[i] = 255
		}
	}
	return mask
}

// start begins the encoding, from the template of the writer's staging
// file (its georeferencing and what SetSource copied), once the first tile
// is complete: by then the output's mask is decided.
func (s *tileStream) start(staging string, interps []string, out *storage.AtomicOutput) error {
	ds, err := OpenDataset(staging)
	if err != nil {
		return err
	}
	defer ds.Close()
	src := cogSource{info: ds.Info(), user: out.Dst, name: ds.name,
		units: func(template string) error { return copyUnits(ds, template) }}
	cfg := s.cfg
	cfg.Mask = s.mask
	run, ok, err := startEncoding(src, cogEncoding{opts: s.cog, extra: interps}, cfg, out)
	if err == nil && !ok {
		err = raster.Errorf(raster.StatusUnsupported, "cloudio's encoder cannot write the COG of %q (write it without STREAM=YES)", out.Dst)
	}
	if err != nil {
		return err
	}
	s.run = run
	return nil
}

// send hands complete tiles to the encoder, with their statistics.
func (s *tileStream) send(tiles []*tileCells) error {
	bands, size := int(s.spec.Bands), s.spec.DType.Size()
	for _, t := range tiles {
		cells := int(t.win.Rows * t.win.Cols)
		if s.mask && t.mask == nil {
			t.mask = t.writtenMask()
		}
		if s.stats != nil {
			partial := newRasterStats(s.stats.nodata, 0)
			var masks [][]byte
			if t.mask != nil {
				masks = make([][]byte, bands)
				for b := range masks {
					masks[b] = t.mask
				}
			}
			partial.add(t.cells, s.spec.DType, cells, masks)
			s.statsMu.Lock()
			s.stats.merge(partial)
			s.statsMu.Unlock()
		}
		tile := make([]byte, s.run.enc.TileLen())
		interleaveTile(tile, t.cells, t.win, bands, size, s.side)
		var mask []byte
		if s.mask {
			mask = make([]byte, s.side*s.side)
			interleaveTile(mask, t.mask, t.win, 1, 1, s.side)
		}
		if err := s.run.enc.WriteTile(t.tx, t.ty, tile, mask); err != nil {
			return raster.Errorf(raster.StatusIO, "cannot encode the COG of %q: %v", s.run.out.Dst, err)
		}
	}
	return nil
}

// rest is every tile not yet sent, complete or not: its cells never
// written are masked when the output has a mask.
func (s *tileStream) rest() []*tileCells {
	var tiles []*tileCells
	for i, sent := range s.sent {
		if sent {
			continue
		}
		t, ok := s.pending[int64(i)]
		if !ok {
			t = s.newTile(int64(i)%s.across, int64(i)/s.across)
		}
		tiles = append(tiles, t)
	}
	return tiles
}

// finish encodes the tiles not yet sent and completes the COG, reporting
// progress on the caller's goroutine.
func (s *tileStream) finish(progress ProgressFunc) error {
	rest := s.rest()
	return s.run.finish(progress, func() error {
		if err := s.send(rest); err != nil {
			return err
		}
		var md [][]string
		if s.stats != nil {
			md = s.stats.metadata()
		}
		return s.run.complete(md, s.run.out.Tmp)
	})
}

// abort discards the encoding, if it started; tiles being handed over
// fail.
func (s *tileStream) abort() {
	if s.run != nil {
		s.run.abort()
	}
}
