package tiff

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"

	"github.com/cloudio-dem/cloudio/internal/cmem"
)

// The COG encoder exists because every COG cloudio wrote went through GDAL
// twice: blocks staged in a GeoTIFF, then GDAL's COG driver decompressing
// them, computing overviews and compressing everything again, alone on
// the process that holds the file. The encoder compresses each block once,
// where and when it is computed, reduces it into the overviews as it
// arrives, and streams the result to a Sink in the order of the file, so
// that a COG bound for an object store never has to exist on local disk.
// It writes what GDAL 3.6's COG driver writes, structure for structure
// (GTiff's IFDS_BEFORE_DATA layout, block leaders and trailers, masks
// interleaved with imagery), with GDAL's own compressors and GDAL's
// overview arithmetic; what it does not implement stays with GDAL (see
// Config.ApplyCOGOptions).

// Config describes the COG to encode.
type Config struct {
	Width, Height int64
	Bands         int
	SampleFormat  int // SampleUint, SampleInt or SampleFloat
	BitsPerSample int // 8 (unsigned only), 16, 32 or 64

	BlockSize     int        // side of the full-resolution tiles: a multiple of 16 in 16..4096 (GDAL's BLOCKSIZE)
	Compression   int        // CompressionNone, CompressionDeflate or CompressionZSTD
	Level         int        // compression level; 0 is GTiff's default (DefaultDeflateLevel, DefaultZSTDLevel)
	Predictor     int        // PredictorNone, PredictorHorizontal or PredictorFloatingPoint; unused without compression, as in GTiff
	Resampling    Resampling // how overviews are computed (needed when there are overviews)
	OverviewCount int        // -1: as many as GDAL makes (until a level fits in a tile); otherwise at most that many (GDAL's OVERVIEW_COUNT; 0 for none)
	BigTIFF       BigTIFF
	// Mask adds an internal mask (GDAL's per-dataset mask): every tile
	// comes with one byte per cell, 0 where the cell is not valid.
	Mask bool
	// Tags are the fields GDAL writes for what the image means rather than
	// how it is stored: colour interpretation, colour table, nodata,
	// metadata, georeferencing (see TemplateTags).
	Tags Tags

	Workers int // goroutines encoding; 0 means GOMAXPROCS
	// Progress, when set, is called (never concurrently) each time a tile
	// of any level has been encoded, with the count so far and the total.
	Progress func(done, total int64)
}

// compressionLevels are the levels GTiff takes for each compression
// (DEFLATE through libdeflate), and its default.
var compressionLevels = map[int]struct{ min, max, def int }{CompressionDeflate: {1, 12, DefaultDeflateLevel},
	CompressionZSTD: {1, 22, DefaultZSTDLevel}}

// BigTIFF chooses the header format.
type BigTIFF int

const (
	BigTIFFAuto BigTIFF = iota // classic TIFF unless the file reaches 4 GiB, decided once its size is known
	BigTIFFYes
	BigTIFFNo
)

// Tag is one TIFF field, its Count values of field Type encoded
// little-endian in Data.
type Tag struct {
	Code, Type uint16
	Count      uint64
	Data       []byte
}

// Tags are the fields the encoder copies into the COG as they are: Every
// goes into every imagery IFD (full resolution and overviews, as GDAL does
// for PhotometricInterpretation, ExtraSamples, ColorMap and GDAL_NODATA),
// Main into the full-resolution IFD only (GeoTIFF keys, GDAL_METADATA).
type Tags struct {
	Every, Main []Tag
}

// everyIFDTags are the tags GDAL repeats in overview IFDs.
var everyIFDTags = map[uint16]bool{TagPhotometric: true, TagExtraSamples: true, TagColorMap: true, TagGDALNoData: true}

// structuralTags are the tags the encoder writes itself.
var structuralTags = map[uint16]bool{TagNewSubfileType: true, TagImageWidth: true, TagImageLength: true,
	TagBitsPerSample: true, TagCompression: true, TagStripOffsets: true, TagSamplesPerPixel: true,
	TagRowsPerStrip: true, TagStripByteCounts: true, TagPlanarConfig: true, TagPredictor: true, TagTileWidth: true,
	TagTileLength: true, TagTileOffsets: true, TagTileByteCounts: true, TagSampleFormat: true, TagJPEGTables: true,
	TagLERCParameters: true, TagYCbCrSubSampling: true, TagSubIFDs: true}

// sampleKind is a sample type the encoder writes.
type sampleKind int

const (
	kindU8 sampleKind = iota
	kindU16
	kindI16
	kindU32
	kindI32
	kindU64
	kindI64
	kindF32
	kindF64
)

var kinds = []struct {
	format, bits int
	name         string
	lo, hi       float64
}{
	kindU8: {SampleUint, 8, "Byte", 0, math.MaxUint8}, kindU16: {SampleUint, 16, "UInt16", 0, math.MaxUint16},
	kindI16: {SampleInt, 16, "Int16", math.MinInt16, math.MaxInt16},
	kindU32: {SampleUint, 32, "UInt32", 0, math.MaxUint32}, kindI32: {SampleInt, 32, "Int32", math.MinInt32, math.MaxInt32},
	kindU64: {SampleUint, 64, "UInt64", 0, math.MaxUint64}, kindI64: {SampleInt, 64, "Int64", math.MinInt64, math.MaxInt64},
	kindF32: {SampleFloat, 32, "Float32", -math.MaxFloat32, math.MaxFloat32},
	kindF64: {SampleFloat, 64, "Float64", -math.MaxFloat64, math.MaxFloat64},
}

func kindOf(format, bits int) (sampleKind, error) {
	for k, d := range kinds {
		if d.format == format && d.bits == bits {
			return sampleKind(k), nil
		}
	}
	return 0, fmt.Errorf("%d-bit samples of sample format %d are not a type the encoder writes", bits, format)
}

func (k sampleKind) size() int         { return kinds[k].bits / 8 }
func (k sampleKind) isFloat() bool     { return kinds[k].format == SampleFloat }
func (k sampleKind) maxValue() float64 { return kinds[k].hi }

// parseNoData reads GDAL_NODATA's text as GDAL does for a band of kind k;
// the value must be one the band can hold.
func parseNoData(k sampleKind, text string) (*noData, error) {
	text = strings.TrimSpace(text)
	nd := &noData{}
	var err error
	switch k {
	case kindI64:
		nd.i64, err = strconv.ParseInt(text, 10, 64)
		nd.value = float64(nd.i64)
	case kindU64:
		nd.u64, err = strconv.ParseUint(text, 10, 64)
		nd.value = float64(nd.u64)
	default:
		nd.value, err = strconv.ParseFloat(text, 64)
	}
	if err != nil {
		return nil, fmt.Errorf("GDAL_NODATA %q is not a %s value", text, kinds[k].name)
	}
	v := nd.value
	switch {
	case k == kindF32 && !math.IsNaN(v) && !math.IsInf(v, 0) && float64(float32(v)) != v,
		!k.isFloat() && k != kindI64 && k != kindU64 && (v != math.Trunc(v) || v < kinds[k].lo || v > kinds[k].hi):
		return nil, fmt.Errorf("GDAL_NODATA %q is not representable as %s", text, kinds[k].name)
	}
	nd.replacement = replacementFor(k, v)
	return nd, nil
}

// Encoder writes one COG. Tiles of the full-resolution grid arrive through
// WriteTile from any goroutine, in any order; Finish completes the file,
// or Abort discards it (one of them must be called: they stop the
// encoder's goroutines).
//
// Memory: the tiles handed over and not yet encoded (at most one per
// worker waits), compressed tiles that arrived before their predecessors
// in file order (while the sink is busy, at most 16 MiB and one per
// worker per level: a sink slower than the encoding holds WriteTile
// back), and for the overviews a band of each level about a tile
// high (the destination tiles being filled: some block x width cells over
// all levels together) when tiles arrive row by row; tiles that arrive far
// out of order wait whole until their neighbours do.
type Encoder struct {
	cfg    Config
	kind   sampleKind
	sink   Sink
	levels []*level
	noData *noData
	// alphaBands are the bands GDAL reads as alpha (ExtraSamples 1 or 2);
	// alphaMask says that the last is the mask of the others.
	alphaBands []bool
	alphaMask  bool

	ctx     context.Context
	cancel  context.CancelFunc
	jobs    chan *levelBlock
	wg      sync.WaitGroup // the workers
	writers sync.WaitGroup // WriteTile calls under way

	mu       sync.Mutex
	err      error
	received []bool
	closed   bool
	// chunk is what a ChunkEncoder keeps (nil for a whole file);
	// chunked says that the file's tiles come as Chunks.
	chunk   *chunkParts
	chunked int64 // the chunks' side in tiles, 0 before the first WriteChunk
	fed     bool  // tiles came through WriteTile

	progressMu  sync.Mutex
	done, total int64
}

// level is one level of the COG: the full resolution (0) or an overview.
type level struct {
	grid      grid
	section   int
	codec     *blockCodec
	maskCodec *blockCodec
	seq       *sequencer
	reducer   *reducer // into the next level; nil for the last
	maskRow   int64    // bytes of a row of a 1-bit mask block
}

// NewEncoder checks cfg and starts the encoder's workers; its blocks go
// to sink as they are encoded. ctx cancels the encoding.
func NewEncoder(ctx context.Context, cfg Config, sink Sink) (*Encoder, error) {
	return newEncoder(ctx, cfg, sink, nil)
}

// newEncoder is NewEncoder, or with chunk the encoder of one chunk (and
// no sink).
func newEncoder(ctx context.Context, cfg Config, sink Sink, chunk *chunkParts) (*Encoder, error) {
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		return nil, errors.New("the COG encoder needs a little-endian host")
	}
	e := &Encoder{cfg: cfg, sink: sink, chunk: chunk}
	if err := e.check(); err != nil {
		return nil, err
	}
	if err := e.plan(); err != nil {
		e.closeCodecs()
		return nil, err
	}
	if chunk != nil {
		if err := chunk.plan(e); err != nil {
			e.closeCodecs()
			return nil, err
		}
	} else {
		bounds := make([]int64, len(e.levels))
		for _, l := range e.levels {
			perTile := int64(l.codec.bound() + 8)
			if l.maskCodec != nil {
				perTile += int64(l.maskCodec.bound() + 8)
			}
			bounds[l.section] = l.grid.tiles() * perTile
		}
		if err := sink.Start(bounds); err != nil {
			e.closeCodecs()
			return nil, err
		}
	}
	e.ctx, e.cancel = context.WithCancel(ctx)
	workers := cfg.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	e.jobs = make(chan *levelBlock, workers)
	for range workers {
		e.wg.Add(1)
		go e.work()
	}
	return e, nil
}

func (e *Encoder) check() error {
	c := &e.cfg
	var err error
	if e.kind, err = kindOf(c.SampleFormat, c.BitsPerSample); err != nil {
		return err
	}
	switch {
	case c.Width < 1 || c.Height < 1 || c.Width > MaxSide || c.Height > MaxSide:
		return fmt.Errorf("raster size %d x %d is not in 1..%d", c.Width, c.Height, MaxSide)
	case c.Bands < 1 || c.Bands > 65535:
		return fmt.Errorf("%d bands is not in 1..65535", c.Bands)
	case c.BlockSize < 16 || c.BlockSize > 4096 || c.BlockSize%16 != 0:
		return fmt.Errorf("block size %d is not a multiple of 16 in 16..4096", c.BlockSize)
	case c.Compression != CompressionNone && c.Compression != CompressionDeflate && c.Compression != CompressionZSTD:
		return fmt.Errorf("compression %d is not implemented by the encoder (only none, DEFLATE and ZSTD)", c.Compression)
	case c.Predictor < 0 || c.Predictor > PredictorFloatingPoint:
		return fmt.Errorf("predictor %d is neither 1, 2 nor 3", c.Predictor)
	case c.Predictor == PredictorFloatingPoint && !e.kind.isFloat():
		return errors.New("PREDICTOR=3 is only supported with Float32 or Float64")
	case c.OverviewCount < -1:
		return fmt.Errorf("overview count %d is below -1", c.OverviewCount)
	}
	if c.Compression == CompressionNone || c.Predictor == 0 {
		c.Predictor = PredictorNone
	}
	switch r, ok := compressionLevels[c.Compression]; {
	case !ok:
		c.Level = 0
	case c.Level == 0:
		c.Level = r.def
	case c.Level < r.min || c.Level > r.max:
		return fmt.Errorf("compression level %d is not in %d..%d", c.Level, r.min, r.max)
	}
	return e.checkTags()
}

// checkTags makes sure the tags describe this raster and reads the nodata
// value from them.
func (e *Encoder) checkTags() error {
	if err := checkTagFields(e.cfg.Tags); err != nil {
		return err
	}
	var photometric = -1
	var extra []byte
	for _, group := range [][]Tag{e.cfg.Tags.Every, e.cfg.Tags.Main} {
		for _, t := range group {
			switch t.Code {
			case TagPhotometric:
				if t.Type != TypeShort || t.Count != 1 {
					return errors.New("PhotometricInterpretation is not one SHORT")
				}
				photometric = int(binary.LittleEndian.Uint16(t.Data))
			case TagExtraSamples:
				extra = t.Data
			case TagGDALNoData:
				if t.Type != TypeASCII {
					return errors.New("GDAL_NODATA is not ASCII")
				}
				nd, err := parseNoData(e.kind, strings.TrimRight(string(t.Data), "\x00"))
				if err != nil {
					return err
				}
				e.noData = nd
			}
		}
	}
	base := map[int]uint64{PhotometricMinIsBlack: 1, PhotometricMinIsWhite: 1, PhotometricRGB: 3, PhotometricPalette: 1}
	n, ok := base[photometric]
	switch {
	case photometric < 0:
		return errors.New("the tags have no PhotometricInterpretation")
	case !ok:
		return fmt.Errorf("PhotometricInterpretation %d is not one the encoder writes", photometric)
	case n+uint64(len(extra)/2) != uint64(e.cfg.Bands):
		return fmt.Errorf("PhotometricInterpretation %d with %d ExtraSamples describes %d bands, not %d", photometric, len(extra)/2,
			n+uint64(len(extra)/2), e.cfg.Bands)
	}
	e.alphaBands = make([]bool, e.cfg.Bands)
	for i := 0; i+1 < len(extra); i += 2 {
		v := binary.LittleEndian.Uint16(extra[i:])
		e.alphaBands[int(n)+i/2] = v == 1 || v == 2
	}
	// GDALRasterBand::GetMaskBand: the alpha band ending a 2- or 4-band
	// Byte or UInt16 raster masks the others.
	e.alphaMask = (e.cfg.Bands == 2 || e.cfg.Bands == 4) && (e.kind == kindU8 || e.kind == kindU16) && e.alphaBands[e.cfg.Bands-1]
	if photometric == PhotometricPalette {
		if e.kind != kindU8 && e.kind != kindU16 {
			return fmt.Errorf("a colour table needs Byte or UInt16 samples, not %s", kinds[e.kind].name)
		}
		colors := uint64(1) << kinds[e.kind].bits
		found := false
		for _, t := range e.cfg.Tags.Every {
			found = found || t.Code == TagColorMap && t.Type == TypeShort && t.Count == 3*colors
		}
		if !found {
			return fmt.Errorf("a palette image needs a ColorMap of %d SHORTs", 3*colors)
		}
	}
	return nil
}

// checkTagFields makes sure no tag is one the encoder writes itself, given
// twice or malformed, and that Main holds no tag of every IFD.
func checkTagFields(tags Tags) error {
	seen := map[uint16]bool{}
	for _, group := range [][]Tag{tags.Every, tags.Main} {
		for _, t := range group {
			switch {
			case structuralTags[t.Code]:
				return fmt.Errorf("tag %d describes the image structure, which the encoder writes itself", t.Code)
			case seen[t.Code]:
				return fmt.Errorf("tag %d is given twice", t.Code)
			case TypeSize(t.Type) == 0 || uint64(len(t.Data)) != t.Count*uint64(TypeSize(t.Type)):
				return fmt.Errorf("tag %d: %d bytes for %d values of field type %d", t.Code, len(t.Data), t.Count, t.Type)
			}
			seen[t.Code] = true
		}
	}
	for _, t := range tags.Main {
		if everyIFDTags[t.Code] {
			return fmt.Errorf("tag %d belongs in every IFD (Tags.Every)", t.Code)
		}
	}
	return nil
}

// SetMainTags replaces Config.Tags.Main, before Finish: a writer learns some
// of what the first IFD says (the statistics in GDAL_METADATA) only once it
// has seen every tile.
func (e *Encoder) SetMainTags(main []Tag) error {
	tags := Tags{Every: e.cfg.Tags.Every, Main: main}
	if err := checkTagFields(tags); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return errors.New("the encoder is finished")
	}
	e.cfg.Tags.Main = main
	return nil
}

// plan lays out the levels, their sections and codecs.
func (e *Encoder) plan() error {
	c := &e.cfg
	grids := levelGrids(*c)
	if len(grids) > 1 && c.Resampling != ResampleNearest && c.Resampling != ResampleAverage {
		return errors.New("overviews need a resampling: nearest or average")
	}
	for _, g := range grids {
		e.levels = append(e.levels, &level{grid: g})
	}
	e.received = make([]bool, e.levels[0].grid.tiles())
	for i, l := range e.levels {
		l.section = len(e.levels) - 1 - i
		e.total += l.grid.tiles()
		bs := int(l.grid.block)
		var err error
		if l.codec, err = newBlockCodec(c.Compression, c.Level, c.Predictor, e.kind.size(), c.Bands, bs, bs*int(e.pixelSize())); err != nil {
			return err
		}
		if c.Mask {
			// GTiff compresses masks with DEFLATE whatever the imagery uses.
			level := DefaultDeflateLevel
			if c.Compression == CompressionDeflate {
				level = c.Level
			}
			l.maskRow = (l.grid.block + 7) / 8
			if l.maskCodec, err = newBlockCodec(CompressionDeflate, level, PredictorNone, 1, 1, bs, int(l.maskRow)); err != nil {
				return err
			}
		}
		l.seq = newSequencer(l.grid.tiles(), e.sectionWriter(l.section))
	}
	for i := 1; i < len(e.levels); i++ {
		e.levels[i-1].reducer = newReducer(e, i)
	}
	return nil
}

func (e *Encoder) sectionWriter(section int) func([]byte) error {
	return func(p []byte) error { return e.sink.Write(section, p) }
}

// masked says whether GDAL's averaging has masks at all: whether the
// first band's mask is not all valid.
func (e *Encoder) masked() bool { return e.cfg.Mask || e.noData != nil || e.alphaMask }

func (e *Encoder) hasAlphaBand() bool {
	for _, a := range e.alphaBands {
		if a {
			return true
		}
	}
	return false
}

// pixelSize is the bytes of one cell, every band.
func (e *Encoder) pixelSize() int64 { return int64(e.cfg.Bands * e.kind.size()) }

// TileLen is the length of the buffers WriteTile takes: a whole tile of
// BlockSize x BlockSize cells, pixel interleaved.
func (e *Encoder) TileLen() int { return e.cfg.BlockSize * e.cfg.BlockSize * int(e.pixelSize()) }

// Grid is the number of full-resolution tiles across and down.
func (e *Encoder) Grid() (across, down int64) { return e.levels[0].grid.across, e.levels[0].grid.down }

// WriteTile hands over full-resolution tile (col, row): TileLen bytes of
// every band of each cell together (pixel interleaved), in rows of
// BlockSize cells; cells past the raster's edge are ignored. mask (with
// Config.Mask) holds one byte per cell, 0 for a cell that is not valid;
// nil means every cell is valid. The encoder keeps both buffers: the
// caller must not touch them afterwards. WriteTile blocks while every
// worker is busy; an error of an earlier tile, or the cancellation of the
// encoding, is returned by the next call.
func (e *Encoder) WriteTile(col, row int64, pixels, mask []byte) error {
	g := e.levels[0].grid
	switch {
	case col < 0 || row < 0 || col >= g.across || row >= g.down:
		return fmt.Errorf("tile (%d, %d) is outside the %d x %d tile grid", col, row, g.across, g.down)
	case len(pixels) != e.TileLen():
		return fmt.Errorf("tile (%d, %d) has %d bytes, not %d (%d x %d cells of %d bands of %s)", col, row, len(pixels),
			e.TileLen(), g.block, g.block, e.cfg.Bands, kinds[e.kind].name)
	case mask != nil && !e.cfg.Mask:
		return fmt.Errorf("tile (%d, %d) has a mask, but the COG has none", col, row)
	case mask != nil && int64(len(mask)) != g.block*g.block:
		return fmt.Errorf("the mask of tile (%d, %d) has %d bytes, not %d", col, row, len(mask), g.block*g.block)
	}
	e.mu.Lock()
	err := e.err
	switch i := row*g.across + col; {
	case e.closed:
		err = errors.New("the encoder is finished")
	case err != nil:
	case e.chunked != 0:
		err = errors.New("the tiles of this COG come as chunks (WriteChunk)")
	case e.chunk != nil && !e.chunk.holds(col, row):
		err = fmt.Errorf("tile (%d, %d) is not in chunk %s", col, row, e.chunk)
	case e.received[i]:
		err = fmt.Errorf("tile (%d, %d) is written twice", col, row)
	default:
		e.received[i] = true
		e.fed = true
		e.writers.Add(1)
	}
	e.mu.Unlock()
	if err != nil {
		return err
	}
	defer e.writers.Done()
	if e.cfg.Mask && mask == nil {
		mask = make([]byte, len(pixels)/int(e.pixelSize()))
		for i := range mask {
			mask[i] = 255
		}
	}
	select {
	case e.jobs <- &levelBlock{tx: col, ty: row, pix: pixels, mask: mask}:
		return nil
	case <-e.ctx.Done():
		return e.fail(e.ctx.Err())
	}
}

// fail records the first error and stops the encoding; it returns the
// error that stopped it.
func (e *Encoder) fail(err error) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err == nil {
		e.err = err
		e.cancel()
	}
	return e.err
}

func (e *Encoder) failed() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err
}

// work encodes the tiles handed over, until there are no more.
func (e *Encoder) work() {
	defer e.wg.Done()
	w := &worker{scratch: map[int64]*encodeScratch{}}
	defer w.free()
	for b := range e.jobs {
		if e.failed() != nil {
			continue
		}
		if err := e.safely(func() error { return e.encodeBlock(w, 0, b) }); err != nil {
			e.fail(err)
		}
	}
}

// safely runs f, turning a panic into an error.
func (e *Encoder) safely(f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("internal error in the COG encoder: %v\n%s", p, debug.Stack())
		}
	}()
	return f()
}

// worker holds one goroutine's encoding buffers, by block size.
type worker struct {
	scratch map[int64]*encodeScratch
}

// encodeScratch is C memory (cmem): the codecs' C code reads and writes
// only that, as valgrind mistracks Go's heap (tests/valgrind.supp).
type encodeScratch struct {
	raw, predicted, packed, out []byte
}

func newScratch(size int) []byte {
	b := cmem.Alloc(size, size)
	clear(b)
	return b
}

// free releases the buffers; the worker is done.
func (w *worker) free() {
	for _, s := range w.scratch {
		for _, b := range [][]byte{s.raw, s.predicted, s.packed, s.out} {
			cmem.Free(b)
		}
	}
}

func (w *worker) buffers(l *level) *encodeScratch {
	s, ok := w.scratch[l.grid.block]
	if !ok {
		n := l.codec.bound() + 8
		if l.maskCodec != nil {
			n += l.maskCodec.bound() + 8
		}
		s = &encodeScratch{raw: newScratch(l.codec.rawLen), predicted: newScratch(l.codec.rawLen), out: newScratch(n)}
		if l.maskCodec != nil {
			s.packed = newScratch(l.maskCodec.rawLen)
		}
		w.scratch[l.grid.block] = s
	}
	return s
}

// encodeBlock compresses block b of level li, queues it for its section
// and reduces it into the next level.
func (e *Encoder) encodeBlock(w *worker, li int, b *levelBlock) error {
	if err := e.ctx.Err(); err != nil {
		return err
	}
	l := e.levels[li]
	if li == 0 {
		e.prepare(l, b)
	}
	s := w.buffers(l)
	n, err := record(l.codec, s.raw[:copy(s.raw, b.pix)], s.predicted, s.out)
	if err != nil {
		return fmt.Errorf("level %d tile (%d, %d): %w", li, b.tx, b.ty, err)
	}
	imageLen := n
	if l.maskCodec != nil {
		packMask(b.mask, l.grid.block, l.maskRow, s.packed)
		m, err := record(l.maskCodec, s.packed, s.predicted, s.out[n:])
		if err != nil {
			return fmt.Errorf("mask of level %d tile (%d, %d): %w", li, b.tx, b.ty, err)
		}
		n += m
	}
	if e.chunk != nil {
		return e.chunk.add(w, e, li, b, s.out[:n], imageLen)
	}
	if err := l.seq.put(b.ty*l.grid.across+b.tx, s.out[:n], imageLen); err != nil {
		return err
	}
	e.progress()
	if l.reducer != nil {
		return l.reducer.add(w, b)
	}
	return nil
}

// record encodes raw into out as a block record: the byte count (GDAL's
// BLOCK_LEADER), the block, its last four bytes again (BLOCK_TRAILER).
func record(c *blockCodec, raw, scratch, out []byte) (int, error) {
	n, err := c.encode(raw, scratch, out[4:])
	if err != nil {
		return 0, err
	}
	binary.LittleEndian.PutUint32(out, uint32(n))
	copy(out[4+n:4+n+4], out[n:4+n])
	return n + 8, nil
}

// prepare readies a full-resolution tile: the cells past the raster's
// edge zeroed (GTiff pads with zeros), in the pixels and the mask, and the
// mask's valid cells 255 (as GDAL reads a 1-bit mask).
func (e *Encoder) prepare(l *level, b *levelBlock) {
	for i, v := range b.mask {
		if v != 0 {
			b.mask[i] = 255
		}
	}
	w, h := l.grid.tileSize(b.tx, b.ty)
	bs, px := l.grid.block, e.pixelSize()
	if w == bs && h == bs {
		return
	}
	for row := int64(0); row < bs; row++ {
		from := w
		if row >= h {
			from = 0
		}
		clear(b.pix[(row*bs+from)*px : (row+1)*bs*px])
		if b.mask != nil {
			clear(b.mask[row*bs+from : (row+1)*bs])
		}
	}
}

// packMask packs a block of 0/non-0 bytes into the 1-bit rows of a TIFF
// mask, most significant bit first.
func packMask(mask []byte, side, rowLen int64, out []byte) {
	clear(out)
	for y := int64(0); y < side; y++ {
		row := out[y*rowLen:]
		for x, v := range mask[y*side : (y+1)*side] {
			if v != 0 {
				row[x>>3] |= 0x80 >> (x & 7)
			}
		}
	}
}

func (e *Encoder) progress() {
	if e.cfg.Progress == nil {
		return
	}
	e.progressMu.Lock()
	defer e.progressMu.Unlock()
	e.done++
	e.cfg.Progress(e.done, e.total)
}

// Finish waits until every tile is encoded, writes the head and completes
// the sink; every tile must have been written. On any failure the sink is
// aborted and nothing is left. Finish may be called once; Abort
// afterwards does nothing.
func (e *Encoder) Finish() error {
	if !e.close() {
		return errors.New("the encoder is already finished")
	}
	defer e.closeCodecs()
	err := e.failed()
	if err == nil {
		err = e.ctx.Err()
	}
	if err == nil {
		err = e.safely(e.finish)
	}
	e.cancel()
	if err != nil {
		return errors.Join(err, e.sink.Abort())
	}
	return nil
}

// Abort stops the encoding and discards everything written to the sink;
// it may be called from any goroutine, WriteTile calls under way return
// an error.
func (e *Encoder) Abort() error {
	e.fail(errors.New("the encoding was aborted"))
	if !e.close() {
		return nil
	}
	e.closeCodecs()
	return e.sink.Abort()
}

// close stops WriteTile and waits until the workers have done everything
// handed over; false when the encoder was already closed.
func (e *Encoder) close() bool {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return false
	}
	e.closed = true
	e.mu.Unlock()
	e.writers.Wait()
	close(e.jobs)
	e.wg.Wait()
	return true
}

func (e *Encoder) closeCodecs() {
	for _, l := range e.levels {
		for _, c := range []*blockCodec{l.codec, l.maskCodec} {
			if c != nil {
				c.close()
			}
		}
	}
}

// finish checks that the file is whole and writes its head.
func (e *Encoder) finish() error {
	g := e.levels[0].grid
	for i, ok := range e.received {
		if !ok {
			return fmt.Errorf("tile (%d, %d) was never written", int64(i)%g.across, int64(i)/g.across)
		}
	}
	for li, l := range e.levels {
		if !l.seq.complete() {
			return fmt.Errorf("internal error: level %d has %d of its %d tiles", li, l.seq.next, l.grid.tiles())
		}
	}
	return e.writeHead()
}
