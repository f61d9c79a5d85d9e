package tiff

import (
	"math"
	"sync"
)

// A reducer computes one overview level from the level above it (GDAL's
// COG driver computes each level from the previous one), block by block
// as the blocks of the level above arrive, in any order.
//
// Every destination cell is assigned to the source block that holds the
// last cell of its window. A window reaches at most a few cells into the
// blocks to the left and above (a ratio of about 2), so a source block is
// reduced once its left, upper and upper-left neighbours have arrived:
// from each block the reducer keeps only those few columns and rows
// ("seams") for its neighbours, and the block itself until it is
// reduced. Blocks arriving row by row therefore hold a seam of rows and
// the destination blocks being filled, a bounded band of each level.
type reducer struct {
	e        *Encoder
	level    int // the destination level
	src, dst grid
	xs, ys   []span
	colStart []int64 // destination columns of source block column tx: [colStart[tx], colStart[tx+1])
	rowStart []int64
	seamX    int64 // columns of a block its right neighbour needs
	seamY    int64
	xByTwo   bool
	noData   *noData // the base's nodata value: what GDAL fills and replaces with
	// noDataMasks: the level above's cells that hold the nodata value do
	// not count (GDAL 3.6 does not carry the nodata value of 64-bit
	// integer bands into its temporary overviews, so from the second
	// overview on they count).
	noDataMasks bool

	mu      sync.Mutex
	arrived []bool
	pending map[int64]*levelBlock
	right   map[int64]*seam // the last seamX columns of a block, for its right neighbour
	below   map[int64]*seam // the last seamY rows, for the blocks below and below-right
	filling map[int64]*filling
}

// levelBlock is a block of a level: pixel interleaved, block x block
// cells (those outside the level are zero), with its mask when the COG
// has one (a byte per cell, 0 where the cell is not valid).
type levelBlock struct {
	tx, ty    int64
	pix, mask []byte
}

type seam struct {
	pix, mask []byte
	w, h      int64
	uses      int
}

type filling struct {
	blk       dstBlock
	remaining int64 // cells still to compute
}

func newReducer(e *Encoder, level int) *reducer {
	src, dst := e.levels[level-1].grid, e.levels[level].grid
	r := &reducer{e: e, level: level, src: src, dst: dst,
		xs: spans(src.width, dst.width, e.cfg.Resampling), ys: spans(src.height, dst.height, e.cfg.Resampling),
		xByTwo: src.width == 2*dst.width, noData: e.noData,
		arrived: make([]bool, src.tiles()), pending: map[int64]*levelBlock{}, right: map[int64]*seam{},
		below: map[int64]*seam{}, filling: map[int64]*filling{}}
	r.noDataMasks = e.noData != nil && !(level > 1 && (e.kind == kindI64 || e.kind == kindU64))
	r.colStart, r.seamX = assign(r.xs, src.across, src.block)
	r.rowStart, r.seamY = assign(r.ys, src.down, src.block)
	return r
}

// assign gives each destination cell to the source block holding the end
// of its window, and says how far windows reach before their block.
func assign(sp []span, blocks, block int64) (start []int64, reach int64) {
	start = make([]int64, blocks+1)
	b := int64(0)
	for j, s := range sp {
		owner := (s.e - 1) / block
		for b < owner {
			b++
			start[b] = int64(j)
		}
		reach = max(reach, owner*block-s.s)
	}
	for b < blocks {
		b++
		start[b] = int64(len(sp))
	}
	return start, reach
}

func (r *reducer) index(tx, ty int64) int64 { return ty*r.src.across + tx }

// ready says whether every block whose seams block (tx, ty) needs has
// arrived.
func (r *reducer) ready(tx, ty int64) bool {
	left, up := r.seamX > 0 && tx > 0, r.seamY > 0 && ty > 0
	return (!left || r.arrived[r.index(tx-1, ty)]) && (!up || r.arrived[r.index(tx, ty-1)]) &&
		(!left || !up || r.arrived[r.index(tx-1, ty-1)])
}

// add takes block b of the level above (the reducer keeps its buffers)
// and reduces every block that has become ready.
func (r *reducer) add(w *worker, b *levelBlock) error {
	var run []*levelBlock
	r.mu.Lock()
	i := r.index(b.tx, b.ty)
	r.arrived[i] = true
	if r.seamX > 0 && b.tx+1 < r.src.across {
		r.right[i] = r.cut(b, r.src.block-r.seamX, 0, r.seamX, r.src.block, 1)
	}
	if r.seamY > 0 && b.ty+1 < r.src.down {
		uses := 1 // the block below, and the one below-right when windows reach left
		if r.seamX > 0 && b.tx+1 < r.src.across {
			uses = 2
		}
		w, _ := r.src.tileSize(b.tx, b.ty)
		r.below[i] = r.cut(b, 0, r.src.block-r.seamY, w, r.seamY, uses)
	}
	r.pending[i] = b
	for _, c := range [][2]int64{{b.tx, b.ty}, {b.tx + 1, b.ty}, {b.tx, b.ty + 1}, {b.tx + 1, b.ty + 1}} {
		if c[0] >= r.src.across || c[1] >= r.src.down {
			continue
		}
		k := r.index(c[0], c[1])
		if p, ok := r.pending[k]; ok && r.ready(c[0], c[1]) {
			delete(r.pending, k)
			run = append(run, p)
		}
	}
	r.mu.Unlock()
	for _, p := range run {
		if err := r.reduce(w, p); err != nil {
			return err
		}
	}
	return nil
}

// cut copies the w x h cells at (x, y) of block b.
func (r *reducer) cut(b *levelBlock, x, y, w, h int64, uses int) *seam {
	s := &seam{w: w, h: h, uses: uses}
	px := r.e.pixelSize()
	s.pix = make([]byte, w*h*px)
	for row := int64(0); row < h; row++ {
		from := ((y+row)*r.src.block + x) * px
		copy(s.pix[row*w*px:(row+1)*w*px], b.pix[from:from+w*px])
	}
	if b.mask != nil {
		s.mask = make([]byte, w*h)
		for row := int64(0); row < h; row++ {
			from := (y+row)*r.src.block + x
			copy(s.mask[row*w:(row+1)*w], b.mask[from:from+w])
		}
	}
	return s
}

// take hands out seam k of m for one use.
func take(m map[int64]*seam, k int64) *seam {
	s := m[k]
	if s.uses--; s.uses == 0 {
		delete(m, k)
	}
	return s
}

// reduce computes the destination cells assigned to block b.
func (r *reducer) reduce(w *worker, b *levelBlock) error {
	c := r.chunk(b)
	mask := c.valid
	average := r.e.cfg.Resampling == ResampleAverage
	perSample := average && r.e.masked() && (!r.e.cfg.Mask || r.e.hasAlphaBand())
	if perSample {
		c.valid = r.validSamples(c, mask)
	}
	dx0, dx1 := r.colStart[b.tx], r.colStart[b.tx+1]
	dy0, dy1 := r.rowStart[b.ty], r.rowStart[b.ty+1]
	if dx0 == dx1 || dy0 == dy1 {
		return nil
	}
	bs := r.dst.block
	for dty := dy0 / bs; dty <= (dy1-1)/bs; dty++ {
		for dtx := dx0 / bs; dtx <= (dx1-1)/bs; dtx++ {
			f := r.fill(dtx, dty)
			red := reduction{src: c, xs: r.xs, ys: r.ys, dst: &f.blk, dstWidth: r.dst.width, xByTwo: r.xByTwo,
				noData: r.noData, resampling: r.e.cfg.Resampling, validBands: perSample,
				dx0: max(dx0, dtx*bs), dx1: min(dx1, (dtx+1)*bs), dy0: max(dy0, dty*bs), dy1: min(dy1, (dty+1)*bs)}
			runReduction(r.e.kind, &red)
			if average && mask != nil {
				r.averageMask(red, c, mask)
			}
			r.mu.Lock()
			f.remaining -= (red.dx1 - red.dx0) * (red.dy1 - red.dy0)
			done := f.remaining == 0
			if done {
				delete(r.filling, r.dst.across*dty+dtx)
			}
			r.mu.Unlock()
			if done {
				if err := r.e.encodeBlock(w, r.level, &levelBlock{tx: dtx, ty: dty, pix: f.blk.pix, mask: f.blk.mask}); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// averageMask averages the mask as GDAL does: for the first overview a
// Byte band that is its own mask (a cell is valid where its window holds
// a valid cell), kept in a 1-bit band of GDAL's temporary overviews; from
// there on a plain band of 0s and 1s, whose average rounds to 0 or 1.
func (r *reducer) averageMask(red reduction, c *chunk, mask []byte) {
	src := &chunk{pix: mask, x0: c.x0, y0: c.y0, w: c.w, h: c.h, bands: 1, sampleSize: 1}
	if r.level == 1 {
		src.valid = mask
	}
	red.src, red.noData, red.validBands = src, nil, false
	d := red.dst
	red.dst = &dstBlock{pix: d.mask, x0: d.x0, y0: d.y0, side: d.side}
	average[uint8](&red, true)
	for i := red.dy0; i < red.dy1; i++ {
		for j := red.dx0; j < red.dx1; j++ {
			at := (i-d.y0)*d.side + j - d.x0
			d.mask[at] = min(d.mask[at], 1)
		}
	}
}

// fill returns destination block (dtx, dty), allocating it on first use.
func (r *reducer) fill(dtx, dty int64) *filling {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := r.dst.across*dty + dtx
	if f, ok := r.filling[k]; ok {
		return f
	}
	bs := r.dst.block
	w, h := r.dst.tileSize(dtx, dty)
	f := &filling{blk: dstBlock{pix: make([]byte, bs*bs*r.e.pixelSize()), x0: dtx * bs, y0: dty * bs, side: bs}, remaining: w * h}
	if r.e.cfg.Mask {
		f.blk.mask = make([]byte, bs*bs)
	}
	r.filling[k] = f
	return f
}

// chunk lays out block b with the seams its windows reach into.
func (r *reducer) chunk(b *levelBlock) *chunk {
	bs := r.src.block
	px := r.e.pixelSize()
	left, up := int64(0), int64(0)
	if b.tx > 0 {
		left = r.seamX
	}
	if b.ty > 0 {
		up = r.seamY
	}
	c := &chunk{x0: b.tx*bs - left, y0: b.ty*bs - up, bands: r.e.cfg.Bands, sampleSize: r.e.kind.size()}
	if left == 0 && up == 0 {
		c.pix, c.valid, c.w, c.h = b.pix, b.mask, bs, bs
		return c
	}
	w, h := r.src.tileSize(b.tx, b.ty)
	c.w, c.h = left+w, up+h
	c.pix = make([]byte, c.w*c.h*px)
	if b.mask != nil {
		c.valid = make([]byte, c.w*c.h)
	}
	place := func(pix, mask []byte, stride, sx, sw, sh, cx, cy int64) {
		for row := int64(0); row < sh; row++ {
			from, to := row*stride+sx, (cy+row)*c.w+cx
			copy(c.pix[to*px:(to+sw)*px], pix[from*px:(from+sw)*px])
			if mask != nil {
				copy(c.valid[to:to+sw], mask[from:from+sw])
			}
		}
	}
	place(b.pix, b.mask, bs, 0, w, h, left, up)
	r.mu.Lock()
	var l, u, ul *seam
	if left > 0 {
		l = take(r.right, r.index(b.tx-1, b.ty))
	}
	if up > 0 {
		u = take(r.below, r.index(b.tx, b.ty-1))
	}
	if left > 0 && up > 0 {
		ul = take(r.below, r.index(b.tx-1, b.ty-1))
	}
	r.mu.Unlock()
	if l != nil {
		place(l.pix, l.mask, l.w, 0, left, h, 0, up)
	}
	if u != nil {
		place(u.pix, u.mask, u.w, 0, w, up, left, 0)
	}
	if ul != nil {
		place(ul.pix, ul.mask, ul.w, ul.w-left, left, up, 0, 0)
	}
	return c
}

// validSamples marks each sample of c that GDAL's averaging counts, band
// by band (GDALRasterBand::GetMaskBand): an alpha band counts where it is
// not 0; the others where the internal mask is valid, else where they do
// not hold the nodata value (a NaN nodata value matches NaN), else where
// the alpha band that masks them is not 0, else everywhere.
func (r *reducer) validSamples(c *chunk, mask []byte) []byte {
	bands := c.bands
	cells := int(c.w * c.h)
	valid := make([]byte, cells*bands)
	for b := 0; b < bands; b++ {
		switch {
		case r.e.alphaBands[b]:
			markNonZero(c, b, b, valid)
		case mask != nil:
			for i, m := range mask[:cells] {
				valid[i*bands+b] = m
			}
		case r.noDataMasks:
			r.markData(c, b, valid)
		case r.e.alphaMask:
			markNonZero(c, bands-1, b, valid)
		default:
			for i := 0; i < cells; i++ {
				valid[i*bands+b] = 255
			}
		}
	}
	return valid
}

// markNonZero marks band b valid where band from of c is not 0.
func markNonZero(c *chunk, from, b int, valid []byte) {
	size := c.sampleSize
	for i := 0; i < int(c.w*c.h); i++ {
		at := (i*c.bands + from) * size
		for _, v := range c.pix[at : at+size] {
			if v != 0 {
				valid[i*c.bands+b] = 255
				break
			}
		}
	}
}

// markData marks band b valid where it does not hold the nodata value.
func (r *reducer) markData(c *chunk, b int, valid []byte) {
	nd := r.noData
	switch r.e.kind {
	case kindU8:
		markValid(cellsOf[uint8](c.pix), uint8(nd.value), b, c.bands, valid)
	case kindU16:
		markValid(cellsOf[uint16](c.pix), uint16(nd.value), b, c.bands, valid)
	case kindI16:
		markValid(cellsOf[int16](c.pix), int16(nd.value), b, c.bands, valid)
	case kindU32:
		markValid(cellsOf[uint32](c.pix), uint32(nd.value), b, c.bands, valid)
	case kindI32:
		markValid(cellsOf[int32](c.pix), int32(nd.value), b, c.bands, valid)
	case kindU64:
		markValid(cellsOf[uint64](c.pix), nd.u64, b, c.bands, valid)
	case kindI64:
		markValid(cellsOf[int64](c.pix), nd.i64, b, c.bands, valid)
	case kindF32:
		markValidFloat(cellsOf[float32](c.pix), float32(nd.value), b, c.bands, valid)
	case kindF64:
		markValidFloat(cellsOf[float64](c.pix), nd.value, b, c.bands, valid)
	}
}

func markValid[T number](v []T, nd T, b, bands int, valid []byte) {
	for i := b; i < len(valid); i += bands {
		if v[i] != nd {
			valid[i] = 255
		}
	}
}

func markValidFloat[T float32 | float64](v []T, nd T, b, bands int, valid []byte) {
	nan := math.IsNaN(float64(nd))
	for i := b; i < len(valid); i += bands {
		if x := v[i]; !(nan && x != x) && !(!nan && x == nd) {
			valid[i] = 255
		}
	}
}
