package tiff

import (
	"fmt"
	"math/bits"
)

const (
	// MaxSide is the largest image side, in cells, that an IFD may declare.
	MaxSide = int64(1) << 31
	// MaxBlockBytes bounds one decoded block (tile or strip): a larger one
	// is refused before anything is allocated for it.
	MaxBlockBytes = int64(1) << 30
)

// Image is the raster layout one IFD describes: its size, the block grid,
// the sample layout and how blocks are encoded. Block offsets and byte
// counts stay in the file until Spans reads them.
type Image struct {
	IFD                     *IFD
	Width, Height           int64
	BlockWidth, BlockHeight int64 // a tile, or the image's width x RowsPerStrip
	Tiled                   bool
	SamplesPerPixel         int
	BitsPerSample           int // every sample has the same size
	SampleFormat            int // SampleUint, SampleInt or SampleFloat, the same for every sample
	Compression             int
	Predictor               int
	Planar                  int // PlanarContig or PlanarSeparate
	Photometric             int // -1 when the IFD has none
	SubfileType             uint64

	file            *File
	offsets, counts Entry
	across, down    int64
}

// Span is where a block's bytes are: N bytes at Off. N == 0 is a sparse
// block (GDAL writes none for blocks that hold only nodata or zeros).
type Span struct{ Off, N uint64 }

// Image returns the layout of IFD i, checked: sizes within MaxSide and
// MaxBlockBytes, one offset and one byte count per block.
func (f *File) Image(i int) (*Image, error) {
	if i < 0 || i >= len(f.IFDs) {
		return nil, malformed("IFD %d does not exist (the file has %d)", i, len(f.IFDs))
	}
	d := f.IFDs[i]
	im := &Image{IFD: d, file: f, Photometric: -1}
	get := func(tag uint16, def uint64) int64 {
		v, err := f.Uint(d, tag, def)
		if err != nil || v > uint64(MaxSide) {
			return -1
		}
		return int64(v)
	}
	fail := func(format string, args ...any) (*Image, error) {
		return nil, malformed("IFD %d: "+format, append([]any{i}, args...)...)
	}
	im.Width, im.Height = get(TagImageWidth, 0), get(TagImageLength, 0)
	if im.Width <= 0 || im.Height <= 0 || im.Width > MaxSide || im.Height > MaxSide {
		return fail("image size %d x %d is not in 1..%d", im.Width, im.Height, MaxSide)
	}
	spp := get(TagSamplesPerPixel, 1)
	if spp < 1 || spp > 65535 {
		return fail("SamplesPerPixel %d is not in 1..65535", spp)
	}
	im.SamplesPerPixel = int(spp)
	var err error
	if im.BitsPerSample, err = f.sameForEverySample(d, TagBitsPerSample, 1, im.SamplesPerPixel); err != nil {
		return nil, err
	}
	if im.BitsPerSample < 1 || im.BitsPerSample > 64 {
		return fail("BitsPerSample %d is not in 1..64", im.BitsPerSample)
	}
	if im.SampleFormat, err = f.sameForEverySample(d, TagSampleFormat, SampleUint, im.SamplesPerPixel); err != nil {
		return nil, err
	}
	for _, v := range []struct {
		field *int
		tag   uint16
		def   uint64
	}{{&im.Compression, TagCompression, CompressionNone}, {&im.Predictor, TagPredictor, PredictorNone},
		{&im.Planar, TagPlanarConfig, PlanarContig}} {
		n := get(v.tag, v.def)
		if n < 0 || n > 65535 {
			return fail("tag %d holds %d, not a 16-bit value", v.tag, n)
		}
		*v.field = int(n)
	}
	if im.Planar != PlanarContig && im.Planar != PlanarSeparate {
		return fail("PlanarConfiguration %d is neither 1 nor 2", im.Planar)
	}
	if _, ok := d.Entry(TagPhotometric); ok {
		if im.Photometric = int(get(TagPhotometric, 0)); im.Photometric < 0 {
			return fail("PhotometricInterpretation is not a 16-bit value")
		}
	}
	if im.SubfileType, err = f.Uint(d, TagNewSubfileType, 0); err != nil {
		return nil, err
	}
	offTag, countTag := uint16(TagStripOffsets), uint16(TagStripByteCounts)
	if _, tiled := d.Entry(TagTileWidth); tiled {
		im.Tiled, offTag, countTag = true, TagTileOffsets, TagTileByteCounts
		im.BlockWidth, im.BlockHeight = get(TagTileWidth, 0), get(TagTileLength, 0)
	} else {
		im.BlockWidth, im.BlockHeight = im.Width, min(get(TagRowsPerStrip, uint64(im.Height)), im.Height)
	}
	if im.BlockWidth <= 0 || im.BlockHeight <= 0 {
		return fail("block size %d x %d is not positive", im.BlockWidth, im.BlockHeight)
	}
	if n := im.BlockLen(); n <= 0 || n > MaxBlockBytes {
		return fail("a %d x %d block of %d %d-bit samples per pixel holds more than %d bytes",
			im.BlockWidth, im.BlockHeight, im.SamplesPerPixel, im.BitsPerSample, MaxBlockBytes)
	}
	im.across = (im.Width + im.BlockWidth - 1) / im.BlockWidth
	im.down = (im.Height + im.BlockHeight - 1) / im.BlockHeight
	hi, blocks := bits.Mul64(uint64(im.across), uint64(im.down))
	hi2, blocks := bits.Mul64(blocks, uint64(im.Planes()))
	var ok bool
	if im.offsets, ok = d.Entry(offTag); !ok {
		return fail("no block offsets (tag %d)", offTag)
	}
	if im.counts, ok = d.Entry(countTag); !ok {
		return fail("no block byte counts (tag %d)", countTag)
	}
	if hi|hi2 != 0 || im.offsets.Count != blocks || im.counts.Count != blocks {
		return fail("%d block offsets and %d byte counts for %d blocks (%d x %d x %d planes)",
			im.offsets.Count, im.counts.Count, blocks, im.across, im.down, im.Planes())
	}
	for _, e := range []Entry{im.offsets, im.counts} {
		if !isUnsigned(e.Type) {
			return fail("tag %d has field type %d, not an unsigned integer type", e.Tag, e.Type)
		}
	}
	return im, nil
}

// sameForEverySample reads a per-sample tag whose values must all agree
// (cloudio's rasters have one data type for every band).
func (f *File) sameForEverySample(d *IFD, tag uint16, def uint64, spp int) (int, error) {
	e, ok := d.Entry(tag)
	if !ok {
		return int(def), nil
	}
	if e.Count == 0 {
		return 0, malformed("IFD %d: tag %d has no value", d.Index, tag)
	}
	n := min(e.Count, uint64(spp))
	values, err := f.Uints(e, 0, n)
	if err != nil {
		return 0, fmt.Errorf("IFD %d: %w", d.Index, err)
	}
	for _, v := range values[1:] {
		if v != values[0] {
			return 0, malformed("IFD %d: tag %d differs between samples (%d and %d)", d.Index, tag, values[0], v)
		}
	}
	if values[0] > 65535 {
		return 0, malformed("IFD %d: tag %d holds %d, not a 16-bit value", d.Index, tag, values[0])
	}
	return int(values[0]), nil
}

// Planes is how many blocks cover one block position: one per sample when
// band interleaved, else 1.
func (im *Image) Planes() int {
	if im.Planar == PlanarSeparate {
		return im.SamplesPerPixel
	}
	return 1
}

// BlocksAcross and BlocksDown are the block grid's size.
func (im *Image) BlocksAcross() int64 { return im.across }
func (im *Image) BlocksDown() int64   { return im.down }

// BlockLen is the byte size of one decoded block; a row of a block has
// BlockLen / BlockHeight bytes (rows of sub-byte samples are padded to a
// whole byte, as TIFF stores them).
func (im *Image) BlockLen() int64 { return im.BlockHeight * im.RowLen() }

// RowLen is the byte size of one decoded row of a block.
func (im *Image) RowLen() int64 {
	samples := im.BlockWidth
	if im.Planar == PlanarContig {
		samples *= int64(im.SamplesPerPixel)
	}
	return (samples*int64(im.BitsPerSample) + 7) / 8
}

// Spans reads where blocks (bx0 .. bx0+n-1, by) of plane lie in the file
// (plane is 0 unless band interleaved). Every span is checked against the
// file's size.
func (im *Image) Spans(plane int, by, bx0, n int64) ([]Span, error) {
	if plane < 0 || plane >= im.Planes() || by < 0 || by >= im.down || bx0 < 0 || n < 0 || n > im.across-bx0 {
		return nil, malformed("IFD %d: blocks %d..%d of block row %d of plane %d do not exist (%d x %d blocks, %d planes)",
			im.IFD.Index, bx0, bx0+n-1, by, plane, im.across, im.down, im.Planes())
	}
	first := uint64((int64(plane)*im.down+by)*im.across + bx0)
	offs, err := im.file.Uints(im.offsets, first, uint64(n))
	if err != nil {
		return nil, fmt.Errorf("IFD %d: %w", im.IFD.Index, err)
	}
	counts, err := im.file.Uints(im.counts, first, uint64(n))
	if err != nil {
		return nil, fmt.Errorf("IFD %d: %w", im.IFD.Index, err)
	}
	spans := make([]Span, n)
	size := uint64(im.file.size)
	for k := range spans {
		off, count := offs[k], counts[k]
		if off == 0 || count == 0 {
			continue // sparse
		}
		if off > size || count > size-off {
			return nil, malformed("IFD %d: %s claims %d bytes at offset %d, past the end of the %d-byte file",
				im.IFD.Index, im.blockName(bx0+int64(k), by, int64(plane)), count, off, size)
		}
		spans[k] = Span{Off: off, N: count}
	}
	return spans, nil
}

// blockName names a block in messages: strips by their number, tiles by
// their column and row in the grid.
func (im *Image) blockName(bx, by, plane int64) string {
	name := fmt.Sprintf("tile (%d, %d)", bx, by)
	if !im.Tiled {
		name = fmt.Sprintf("strip %d", by)
	}
	if im.Planes() > 1 {
		name += fmt.Sprintf(" of plane %d", plane)
	}
	return name
}
