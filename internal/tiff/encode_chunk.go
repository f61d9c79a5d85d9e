package tiff

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// Encoding where the data is: a worker of a cluster that computes a chunk
// of the raster encodes it there with a ChunkEncoder, into its compressed
// full-resolution tiles and the compressed tiles of the overview levels it
// covers alone; the process that writes the file hands those Chunks to its
// Encoder (WriteChunk), which only lays them out and reduces the levels
// below them. The file is byte for byte the one the Encoder writes from
// the tiles.
//
// A chunk is a square of side x side full-resolution tiles at a multiple of
// side (clipped at the raster's edges). It covers overview level k alone
// when every level down to k is exactly half the one above in both
// directions (then each overview cell's window lies in the cells of one
// chunk, GDAL's windows not drifting) and the chunk's part of level k is a
// whole number of level k's tiles: ChunkLevels says how deep that goes.
// Chunks of 2^m tiles cover m levels of a raster whose sides divide by
// BlockSize x 2^m; each level further halves the bytes that reach the
// writing process raw.

// Chunk is what a ChunkEncoder makes of one chunk. Its fields are plain so
// that a caller can send it between processes as it likes.
type Chunk struct {
	Side, CX, CY int64 // the chunk: tiles [CX*Side, (CX+1)*Side) x [CY*Side, (CY+1)*Side)
	Levels       int   // the overview levels the chunk covers (1..Levels); 0 for none
	// Records are the chunk's blocks of levels 0..Levels, compressed and
	// framed as the file holds them, in order of level, row and column.
	Records []ChunkRecord
	// Raw are the chunk's blocks of level Levels, not compressed, from
	// which the writer computes the levels below (none when Levels is the
	// last level).
	Raw []ChunkBlock
}

// ChunkRecord is one encoded block: the bytes the file holds for it
// (imagery, then its mask's when the COG has a mask), Image of them the
// imagery's.
type ChunkRecord struct {
	Level  int
	TX, TY int64
	Data   []byte
	Image  int
}

// ChunkBlock is one block of a level, as the reduction takes it: pixel
// interleaved, a whole block of cells, with a byte per cell of mask when
// the COG has a mask.
type ChunkBlock struct {
	TX, TY    int64
	Pix, Mask []byte
}

// ChunkLevels is how many overview levels chunks of side x side tiles
// cover alone, for the COG cfg describes.
func ChunkLevels(cfg Config, side int64) (int, error) {
	e := &Encoder{cfg: cfg}
	if err := e.check(); err != nil {
		return 0, err
	}
	if side < 1 {
		return 0, fmt.Errorf("chunks of %d tiles", side)
	}
	return chunkDepth(levelGrids(e.cfg), side), nil
}

// levelGrids are the block grids of the levels of cfg's COG.
func levelGrids(cfg Config) []grid {
	block := int64(cfg.BlockSize)
	grids := []grid{newGrid(cfg.Width, cfg.Height, block)}
	for _, s := range overviewSizes(cfg.Width, cfg.Height, block, cfg.OverviewCount) {
		grids = append(grids, newGrid(s[0], s[1], overviewBlock(block)))
	}
	return grids
}

// chunkDepth is ChunkLevels for the levels' grids. With exact halving,
// GDAL's windows (nearest and average) are the cells 2i and 2i + 1 of the
// level above, which never reach into another block of even side: the
// reductions need no seams.
func chunkDepth(grids []grid, side int64) int {
	cells := side * grids[0].block // the chunk's side in cells of level k
	m := 0
	for k := 0; k+1 < len(grids); k++ {
		src, dst := grids[k], grids[k+1]
		if src.width != 2*dst.width || src.height != 2*dst.height || cells%2 != 0 || (cells/2)%dst.block != 0 {
			break
		}
		cells /= 2
		m = k + 1
	}
	return m
}

// region is the chunk's tiles of level k of grids: [tx0, tx1) x [ty0, ty1).
func region(grids []grid, side, cx, cy int64, k int) (tx0, ty0, tx1, ty1 int64) {
	g := grids[k]
	n := side * grids[0].block >> k / g.block // the chunk's side in tiles of level k
	return cx * n, cy * n, min((cx+1)*n, g.across), min((cy+1)*n, g.down)
}

// chunkParts is what the encoder of one chunk keeps.
type chunkParts struct {
	side, cx, cy int64
	levels       int
	grids        []grid

	mu      sync.Mutex
	records []ChunkRecord
	raw     []ChunkBlock
}

func (c *chunkParts) String() string {
	return fmt.Sprintf("(%d, %d) of %d x %d tiles", c.cx, c.cy, c.side, c.side)
}

func (c *chunkParts) plan(e *Encoder) error {
	c.grids = levelGrids(e.cfg)
	g := c.grids[0]
	if c.side < 1 || c.cx < 0 || c.cy < 0 || c.cx*c.side >= g.across || c.cy*c.side >= g.down {
		return fmt.Errorf("chunk %s is outside the %d x %d tile grid", c, g.across, g.down)
	}
	c.levels = chunkDepth(c.grids, c.side)
	e.total = 0
	for k := 0; k <= c.levels; k++ {
		tx0, ty0, tx1, ty1 := region(c.grids, c.side, c.cx, c.cy, k)
		e.total += (tx1 - tx0) * (ty1 - ty0)
	}
	return nil
}

// holds says whether full-resolution tile (tx, ty) is the chunk's.
func (c *chunkParts) holds(tx, ty int64) bool {
	tx0, ty0, tx1, ty1 := region(c.grids, c.side, c.cx, c.cy, 0)
	return tx >= tx0 && tx < tx1 && ty >= ty0 && ty < ty1
}

// add keeps encoded block b of level li (rec is only valid during the
// call) and reduces it into the next level the chunk covers.
func (c *chunkParts) add(w *worker, e *Encoder, li int, b *levelBlock, rec []byte, image int) error {
	c.mu.Lock()
	c.records = append(c.records, ChunkRecord{Level: li, TX: b.tx, TY: b.ty, Data: append([]byte(nil), rec...), Image: image})
	if li == c.levels && li+1 < len(c.grids) {
		c.raw = append(c.raw, ChunkBlock{TX: b.tx, TY: b.ty, Pix: b.pix, Mask: b.mask})
	}
	c.mu.Unlock()
	e.progress()
	if li < c.levels {
		return e.levels[li].reducer.add(w, b)
	}
	return nil
}

// ChunkEncoder encodes one chunk of a COG on the process that computes it.
// Its memory is the chunk's: every encoded block, and the raw blocks of
// its last level.
type ChunkEncoder struct {
	e *Encoder
}

// NewChunkEncoder starts encoding chunk (cx, cy) of side x side tiles of
// the COG cfg describes (the same Config as the writer's Encoder).
func NewChunkEncoder(ctx context.Context, cfg Config, side, cx, cy int64) (*ChunkEncoder, error) {
	e, err := newEncoder(ctx, cfg, nil, &chunkParts{side: side, cx: cx, cy: cy})
	if err != nil {
		return nil, err
	}
	return &ChunkEncoder{e}, nil
}

// TileLen is the length of the buffers WriteTile takes.
func (c *ChunkEncoder) TileLen() int { return c.e.TileLen() }

// WriteTile hands over full-resolution tile (col, row) of the chunk, as
// Encoder.WriteTile does (col and row count in the whole raster).
func (c *ChunkEncoder) WriteTile(col, row int64, pixels, mask []byte) error {
	return c.e.WriteTile(col, row, pixels, mask)
}

// Finish waits until every tile of the chunk is encoded and returns the
// chunk's blocks.
func (c *ChunkEncoder) Finish() (*Chunk, error) {
	e := c.e
	if !e.close() {
		return nil, errors.New("the chunk encoder is already finished")
	}
	defer e.closeCodecs()
	defer e.cancel()
	if err := e.failed(); err != nil {
		return nil, err
	}
	if err := e.ctx.Err(); err != nil {
		return nil, err
	}
	p := e.chunk
	tx0, ty0, tx1, ty1 := region(p.grids, p.side, p.cx, p.cy, 0)
	for ty := ty0; ty < ty1; ty++ {
		for tx := tx0; tx < tx1; tx++ {
			if !e.received[ty*p.grids[0].across+tx] {
				return nil, fmt.Errorf("tile (%d, %d) of chunk %s was never written", tx, ty, p)
			}
		}
	}
	if int64(len(p.records)) != e.total {
		return nil, fmt.Errorf("internal error: chunk %s has %d of its %d blocks", p, len(p.records), e.total)
	}
	slices.SortFunc(p.records, func(a, b ChunkRecord) int {
		return cmp.Or(cmp.Compare(a.Level, b.Level), cmp.Compare(a.TY, b.TY), cmp.Compare(a.TX, b.TX))
	})
	slices.SortFunc(p.raw, func(a, b ChunkBlock) int { return cmp.Or(cmp.Compare(a.TY, b.TY), cmp.Compare(a.TX, b.TX)) })
	return &Chunk{Side: p.side, CX: p.cx, CY: p.cy, Levels: p.levels, Records: p.records, Raw: p.raw}, nil
}

// Abort stops the chunk's encoding and drops what it holds.
func (c *ChunkEncoder) Abort() {
	c.e.fail(errors.New("the encoding was aborted"))
	if c.e.close() {
		c.e.closeCodecs()
	}
}

// WriteChunk hands over a chunk that a ChunkEncoder encoded, from any
// goroutine: its records go to the file, its raw blocks into the levels
// below it. Every chunk of a file has the same side, and a file takes
// either chunks or tiles. The encoder keeps the chunk's buffers.
//
// The records wait, compressed, until the tiles before them in file
// order have arrived: chunks arriving a row of chunks at a time hold
// about a row of chunks.
func (e *Encoder) WriteChunk(c *Chunk) error {
	grids := levelGrids(e.cfg)
	g := grids[0]
	if c.Side < 1 || c.CX < 0 || c.CY < 0 || c.CX*c.Side >= g.across || c.CY*c.Side >= g.down {
		return fmt.Errorf("chunk (%d, %d) of %d x %d tiles is outside the %d x %d tile grid", c.CX, c.CY, c.Side, c.Side, g.across, g.down)
	}
	name := fmt.Sprintf("chunk (%d, %d)", c.CX, c.CY)
	if m := chunkDepth(grids, c.Side); c.Levels != m {
		return fmt.Errorf("%s covers %d overview levels, not the %d chunks of %d tiles cover", name, c.Levels, m, c.Side)
	}
	if err := e.checkChunk(grids, c, name); err != nil {
		return err
	}
	tx0, ty0, tx1, ty1 := region(grids, c.Side, c.CX, c.CY, 0)
	e.mu.Lock()
	err := e.err
	switch {
	case e.closed:
		err = errors.New("the encoder is finished")
	case err != nil:
	case e.fed:
		err = errors.New("the tiles of this COG come through WriteTile, not as chunks")
	case e.chunked != 0 && e.chunked != c.Side:
		err = fmt.Errorf("%s has %d tiles a side, the file's chunks %d", name, c.Side, e.chunked)
	case e.received[ty0*g.across+tx0]:
		err = fmt.Errorf("%s is written twice", name)
	default:
		e.chunked = c.Side
		for ty := ty0; ty < ty1; ty++ {
			for tx := tx0; tx < tx1; tx++ {
				e.received[ty*g.across+tx] = true
			}
		}
		e.writers.Add(1)
	}
	e.mu.Unlock()
	if err != nil {
		return err
	}
	defer e.writers.Done()
	err = e.safely(func() error {
		for _, r := range c.Records {
			if err := e.ctx.Err(); err != nil {
				return err
			}
			l := e.levels[r.Level]
			if err := l.seq.put(r.TY*l.grid.across+r.TX, r.Data, r.Image); err != nil {
				return err
			}
			e.progress()
		}
		w := &worker{scratch: map[int64]*encodeScratch{}}
		defer w.free()
		for _, b := range c.Raw {
			if err := e.ctx.Err(); err != nil {
				return err
			}
			if err := e.levels[c.Levels].reducer.add(w, &levelBlock{tx: b.TX, ty: b.TY, pix: b.Pix, mask: b.Mask}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return e.fail(err)
	}
	return nil
}

// checkChunk makes sure c holds exactly its blocks, each the size the file
// takes, before anything of it reaches the file.
func (e *Encoder) checkChunk(grids []grid, c *Chunk, name string) error {
	seen := map[[3]int64]bool{}
	want := 0
	for k := 0; k <= c.Levels; k++ {
		tx0, ty0, tx1, ty1 := region(grids, c.Side, c.CX, c.CY, k)
		want += int((tx1 - tx0) * (ty1 - ty0))
	}
	for _, r := range c.Records {
		if r.Level < 0 || r.Level > c.Levels {
			return fmt.Errorf("%s: a block of level %d", name, r.Level)
		}
		tx0, ty0, tx1, ty1 := region(grids, c.Side, c.CX, c.CY, r.Level)
		key := [3]int64{int64(r.Level), r.TX, r.TY}
		l := e.levels[r.Level]
		most := l.codec.bound() + 8
		if l.maskCodec != nil {
			most += l.maskCodec.bound() + 8
		}
		switch {
		case r.TX < tx0 || r.TX >= tx1 || r.TY < ty0 || r.TY >= ty1 || seen[key]:
			return fmt.Errorf("%s: block (%d, %d) of level %d is not one of its own, or given twice", name, r.TX, r.TY, r.Level)
		case r.Image < 8 || r.Image > len(r.Data) || len(r.Data) > most || (l.maskCodec == nil) != (r.Image == len(r.Data)) ||
			int(binary.LittleEndian.Uint32(r.Data))+8 != r.Image:
			return fmt.Errorf("%s: block (%d, %d) of level %d is not a block record", name, r.TX, r.TY, r.Level)
		}
		seen[key] = true
	}
	if len(seen) != want {
		return fmt.Errorf("%s has %d of its %d blocks", name, len(seen), want)
	}
	if c.Levels+1 == len(grids) {
		if len(c.Raw) != 0 {
			return fmt.Errorf("%s has raw blocks of the last level", name)
		}
		return nil
	}
	tx0, ty0, tx1, ty1 := region(grids, c.Side, c.CX, c.CY, c.Levels)
	side := grids[c.Levels].block
	raw := map[[2]int64]bool{}
	for _, b := range c.Raw {
		key := [2]int64{b.TX, b.TY}
		switch {
		case b.TX < tx0 || b.TX >= tx1 || b.TY < ty0 || b.TY >= ty1 || raw[key]:
			return fmt.Errorf("%s: raw block (%d, %d) is not one of its own, or given twice", name, b.TX, b.TY)
		case int64(len(b.Pix)) != side*side*e.pixelSize() || (e.cfg.Mask != (b.Mask != nil)) || (b.Mask != nil && int64(len(b.Mask)) != side*side):
			return fmt.Errorf("%s: raw block (%d, %d) has %d bytes and a mask of %d, not a block's", name, b.TX, b.TY, len(b.Pix), len(b.Mask))
		}
		raw[key] = true
	}
	if int64(len(raw)) != (tx1-tx0)*(ty1-ty0) {
		return fmt.Errorf("%s has %d of its %d raw blocks", name, len(raw), (tx1-tx0)*(ty1-ty0))
	}
	return nil
}

// chunkMagic starts a Chunk's binary form (version 1).
var chunkMagic = [8]byte{'C', 'L', 'D', 'C', 'H', 'N', 'K', 1}

// MarshalBinary is c in a form to send between processes: the chunk's
// numbers, then each record and raw block with its numbers and lengths,
// little-endian.
func (c *Chunk) MarshalBinary() ([]byte, error) {
	n := len(chunkMagic) + 3*8 + 3*4
	for _, r := range c.Records {
		n += 4 + 2*8 + 2*4 + len(r.Data)
	}
	for _, b := range c.Raw {
		n += 2*8 + 2*4 + len(b.Pix) + len(b.Mask)
	}
	out := make([]byte, 0, n)
	le := binary.LittleEndian
	out = append(out, chunkMagic[:]...)
	out = le.AppendUint64(le.AppendUint64(le.AppendUint64(out, uint64(c.Side)), uint64(c.CX)), uint64(c.CY))
	out = le.AppendUint32(le.AppendUint32(le.AppendUint32(out, uint32(c.Levels)), uint32(len(c.Records))), uint32(len(c.Raw)))
	for _, r := range c.Records {
		out = le.AppendUint64(le.AppendUint64(le.AppendUint32(out, uint32(r.Level)), uint64(r.TX)), uint64(r.TY))
		out = append(le.AppendUint32(le.AppendUint32(out, uint32(r.Image)), uint32(len(r.Data))), r.Data...)
	}
	for _, b := range c.Raw {
		out = le.AppendUint32(le.AppendUint32(le.AppendUint64(le.AppendUint64(out, uint64(b.TX)), uint64(b.TY)), uint32(len(b.Pix))),
			uint32(len(b.Mask)))
		out = append(append(out, b.Pix...), b.Mask...)
	}
	return out, nil
}

// UnmarshalBinary reads what MarshalBinary wrote into c; c's buffers are
// slices of data, which must stay untouched. Numbers and lengths are
// checked against data's size here, and the blocks against the file by
// WriteChunk.
func (c *Chunk) UnmarshalBinary(data []byte) error {
	r := chunkReader{data: data}
	if magic := r.bytes(len(chunkMagic)); r.err == nil && string(magic) != string(chunkMagic[:]) {
		return errors.New("not a chunk of the COG encoder (or another version)")
	}
	*c = Chunk{Side: r.int64(), CX: r.int64(), CY: r.int64(), Levels: int(r.uint32())}
	records := r.count(4 + 2*8 + 2*4)
	raw := r.count(2*8 + 2*4)
	for i := 0; i < records && r.err == nil; i++ {
		rec := ChunkRecord{Level: int(r.uint32()), TX: r.int64(), TY: r.int64(), Image: int(r.uint32())}
		rec.Data = r.bytes(int(r.uint32()))
		c.Records = append(c.Records, rec)
	}
	for i := 0; i < raw && r.err == nil; i++ {
		b := ChunkBlock{TX: r.int64(), TY: r.int64()}
		pix, mask := int(r.uint32()), int(r.uint32())
		b.Pix = r.bytes(pix)
		if mask > 0 {
			b.Mask = r.bytes(mask)
		}
		c.Raw = append(c.Raw, b)
	}
	if r.err == nil && len(r.data) != 0 {
		r.err = fmt.Errorf("%d bytes after the chunk", len(r.data))
	}
	if r.err != nil {
		*c = Chunk{}
		return fmt.Errorf("a damaged chunk: %w", r.err)
	}
	return nil
}

// chunkReader reads a Chunk's binary form; the first overrun is its error.
type chunkReader struct {
	data []byte
	err  error
}

func (r *chunkReader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.data) {
		r.err = fmt.Errorf("%d bytes wanted, %d left", n, len(r.data))
		return nil
	}
	b := r.data[:n:n]
	r.data = r.data[n:]
	return b
}

func (r *chunkReader) uint32() uint32 {
	if b := r.bytes(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (r *chunkReader) int64() int64 {
	if b := r.bytes(8); b != nil {
		return int64(binary.LittleEndian.Uint64(b))
	}
	return 0
}

// count reads a number of items of at least each bytes, bounded by what
// is left.
func (r *chunkReader) count(each int) int {
	n := r.uint32()
	if r.err == nil && uint64(n)*uint64(each) > uint64(len(r.data)) {
		r.err = fmt.Errorf("%d items cannot fit in %d bytes", n, len(r.data))
	}
	return int(n)
}
