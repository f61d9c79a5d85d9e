package tiff

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
)

// The head of a COG is everything before its first block: the header,
// GDAL's ghost area of structural metadata, then every IFD with the values
// that do not fit in its entries, then the block offset and byte count
// arrays of every IFD (GTiff writes those last, through libtiff's deferred
// strile arrays), exactly as GDAL 3.6's COG driver lays them out.

// ghostArea is GDAL's GDAL_STRUCTURAL_METADATA block for a COG (GTiff's
// IFDS_BEFORE_DATA layout); the space after KNOWN_INCOMPATIBLE_EDITION=NO
// leaves room for YES.
func ghostArea(mask bool) []byte {
	body := "LAYOUT=IFDS_BEFORE_DATA\nBLOCK_ORDER=ROW_MAJOR\nBLOCK_LEADER=SIZE_AS_UINT4\n" +
		"BLOCK_TRAILER=LAST_4_BYTES_REPEATED\nKNOWN_INCOMPATIBLE_EDITION=NO\n "
	if mask {
		body += "MASK_INTERLEAVED_WITH_IMAGERY=YES\n"
	}
	return []byte(fmt.Sprintf("GDAL_STRUCTURAL_METADATA_SIZE=%06d bytes\n", len(body)) + body)
}

// valueGroup orders the out-of-line values of an IFD as libtiff writes
// them: TIFF's own tags first, then the tags GDAL registers (GDAL_METADATA,
// GDAL_NODATA), then the GeoTIFF tags, each group by tag.
func valueGroup(code uint16) int {
	switch code {
	case TagGDALMetadata, TagGDALNoData:
		return 1
	case TagModelPixelScale, TagModelTiepoint, TagModelTransformation, TagGeoKeyDirectory, TagGeoDoubleParams,
		TagGeoASCIIParams:
		return 2
	}
	return 0
}

// ifdPlan is one IFD of the COG: its tags but the block arrays, and what
// decides the block arrays' field types.
type ifdPlan struct {
	tags       []Tag // sorted by code, without TileOffsets and TileByteCounts
	blocks     int64
	rawBlock   int64 // bytes of a decoded block
	compressed bool
}

// byteCountType is the field type libtiff (4.5) gives TileByteCounts: the
// natural one for a single block, otherwise the smallest that holds the
// byte count of the worst case it assumes (ten times the decoded block for
// a compressed one).
func (p *ifdPlan) byteCountType(big bool) uint16 {
	if p.blocks == 1 {
		if big {
			return TypeLong8
		}
		return TypeLong
	}
	exceeds := func(limit int64) bool {
		if p.compressed {
			return p.rawBlock >= limit/10
		}
		return p.rawBlock > limit
	}
	switch {
	case big && exceeds(math.MaxUint32):
		return TypeLong8
	case exceeds(math.MaxUint16):
		return TypeLong
	}
	return TypeShort
}

// headLayout is where everything of the head goes, for one header format.
type headLayout struct {
	big        bool
	ghost      []byte
	ifdAt      []int64   // offset of each IFD
	valueAt    [][]int64 // offset of each tag's value, -1 when inline
	offsetsAt  []int64   // offset of each IFD's block offset array, -1 when inline
	countsAt   []int64
	countsType []uint16
	length     int64
}

func (l *headLayout) inline() int64 {
	if l.big {
		return 8
	}
	return 4
}

func (l *headLayout) offsetType() uint16 {
	if l.big {
		return TypeLong8
	}
	return TypeLong
}

func even(n int64) int64 { return n + n&1 }

// layHead places the head of ifds in one header format.
func layHead(ifds []*ifdPlan, mask, big bool) *headLayout {
	l := &headLayout{big: big, ghost: ghostArea(mask)}
	countLen, entryLen, nextLen, header := int64(2), int64(12), int64(4), int64(8)
	if big {
		countLen, entryLen, nextLen, header = 8, 20, 8, 16
	}
	pos := even(header + int64(len(l.ghost)))
	for _, p := range ifds {
		l.ifdAt = append(l.ifdAt, pos)
		pos += countLen + int64(len(p.tags)+2)*entryLen + nextLen
		at := make([]int64, len(p.tags))
		order := make([]int, len(p.tags))
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int { return valueGroup(p.tags[a].Code) - valueGroup(p.tags[b].Code) })
		for _, i := range order {
			at[i] = -1
			if n := int64(len(p.tags[i].Data)); n > l.inline() {
				pos = even(pos)
				at[i] = pos
				pos += n
			}
		}
		l.valueAt = append(l.valueAt, at)
	}
	for _, p := range ifds {
		l.countsType = append(l.countsType, p.byteCountType(big))
		l.offsetsAt = append(l.offsetsAt, -1)
		l.countsAt = append(l.countsAt, -1)
		if n := p.blocks * int64(TypeSize(l.offsetType())); n > l.inline() {
			pos = even(pos)
			l.offsetsAt[len(l.offsetsAt)-1] = pos
			pos += n
		}
		if n := p.blocks * int64(TypeSize(l.countsType[len(l.countsType)-1])); n > l.inline() {
			pos = even(pos)
			l.countsAt[len(l.countsAt)-1] = pos
			pos += n
		}
	}
	l.length = pos
	return l
}

// writeHead fills the head: offsets[i] and counts[i] are IFD i's block
// offsets and byte counts.
func (l *headLayout) writeHead(ifds []*ifdPlan, offsets, counts [][]uint64) []byte {
	le := binary.LittleEndian
	out := make([]byte, l.length)
	copy(out, "II")
	if l.big {
		le.PutUint16(out[2:], 43)
		le.PutUint16(out[4:], 8)
		le.PutUint64(out[8:], uint64(l.ifdAt[0]))
		copy(out[16:], l.ghost)
	} else {
		le.PutUint16(out[2:], 42)
		le.PutUint32(out[4:], uint32(l.ifdAt[0]))
		copy(out[8:], l.ghost)
	}
	putCount := func(b []byte, v uint64) {
		if l.big {
			le.PutUint64(b, v)
		} else {
			le.PutUint32(b, uint32(v))
		}
	}
	for i, p := range ifds {
		pos := l.ifdAt[i]
		entries := append(slices.Clone(p.tags),
			Tag{Code: TagTileOffsets, Type: l.offsetType(), Count: uint64(p.blocks), Data: packUints(offsets[i], l.offsetType())},
			Tag{Code: TagTileByteCounts, Type: l.countsType[i], Count: uint64(p.blocks), Data: packUints(counts[i], l.countsType[i])})
		valueAt := append(slices.Clone(l.valueAt[i]), l.offsetsAt[i], l.countsAt[i])
		order := make([]int, len(entries))
		for k := range order {
			order[k] = k
		}
		slices.SortFunc(order, func(a, b int) int { return int(entries[a].Code) - int(entries[b].Code) })
		if l.big {
			le.PutUint64(out[pos:], uint64(len(entries)))
			pos += 8
		} else {
			le.PutUint16(out[pos:], uint16(len(entries)))
			pos += 2
		}
		for _, k := range order {
			e := entries[k]
			le.PutUint16(out[pos:], e.Code)
			le.PutUint16(out[pos+2:], e.Type)
			field := out[pos+8 : pos+12]
			if l.big {
				le.PutUint64(out[pos+4:], e.Count)
				field = out[pos+12 : pos+20]
				pos += 20
			} else {
				le.PutUint32(out[pos+4:], uint32(e.Count))
				pos += 12
			}
			if at := valueAt[k]; at >= 0 {
				putCount(field, uint64(at))
				copy(out[at:], e.Data)
			} else {
				copy(field, e.Data)
			}
		}
		var next uint64
		if i+1 < len(ifds) {
			next = uint64(l.ifdAt[i+1])
		}
		putCount(out[pos:], next)
	}
	return out
}

// packUints encodes values as little-endian fields of type t.
func packUints(values []uint64, t uint16) []byte {
	size := TypeSize(t)
	out := make([]byte, len(values)*size)
	for i, v := range values {
		switch size {
		case 2:
			binary.LittleEndian.PutUint16(out[2*i:], uint16(v))
		case 4:
			binary.LittleEndian.PutUint32(out[4*i:], uint32(v))
		case 8:
			binary.LittleEndian.PutUint64(out[8*i:], v)
		}
	}
	return out
}

// shortOrLong is a size as libtiff writes it: SHORT when it fits.
func shortOrLong(code uint16, v int64) Tag {
	if v <= math.MaxUint16 {
		return shorts(code, uint64(v))
	}
	return Tag{Code: code, Type: TypeLong, Count: 1, Data: packUints([]uint64{uint64(v)}, TypeLong)}
}

func shorts(code uint16, v ...uint64) Tag {
	return Tag{Code: code, Type: TypeShort, Count: uint64(len(v)), Data: packUints(v, TypeShort)}
}

func repeat(v uint64, n int) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// ifdPlans are the COG's IFDs in GDAL's order: the full resolution, its
// mask, the overviews from the largest, then their masks.
func (e *Encoder) ifdPlans() (plans []*ifdPlan, levels []int, masks []bool) {
	c := &e.cfg
	add := func(li int, mask bool) {
		l := e.levels[li]
		p := &ifdPlan{blocks: l.grid.tiles(), compressed: true}
		var tags []Tag
		subfile := uint64(0)
		if li > 0 {
			subfile = SubfileReduced
		}
		if mask {
			subfile |= SubfileMask
			p.rawBlock = int64(l.maskCodec.rawLen)
			tags = []Tag{shorts(TagBitsPerSample, 1), shorts(TagCompression, CompressionDeflate),
				shorts(TagPhotometric, PhotometricMask), shorts(TagSamplesPerPixel, 1), shorts(TagPlanarConfig, PlanarContig),
				shorts(TagPredictor, PredictorNone), shorts(TagSampleFormat, SampleUint)}
		} else {
			p.rawBlock = int64(l.codec.rawLen)
			p.compressed = c.Compression != CompressionNone
			tags = []Tag{shorts(TagBitsPerSample, repeat(uint64(c.BitsPerSample), c.Bands)...),
				shorts(TagCompression, uint64(c.Compression)), shorts(TagSamplesPerPixel, uint64(c.Bands)),
				shorts(TagPlanarConfig, PlanarContig), shorts(TagSampleFormat, repeat(uint64(c.SampleFormat), c.Bands)...)}
			if p.compressed {
				tags = append(tags, shorts(TagPredictor, uint64(c.Predictor)))
			}
			for _, t := range c.Tags.Every {
				// GDAL 3.6 writes no nodata value into the overviews of
				// 64-bit integer bands.
				if li == 0 || t.Code != TagGDALNoData || e.kind != kindI64 && e.kind != kindU64 {
					tags = append(tags, t)
				}
			}
			if li == 0 {
				tags = append(tags, c.Tags.Main...)
			}
		}
		if subfile != 0 {
			tags = append(tags, Tag{Code: TagNewSubfileType, Type: TypeLong, Count: 1, Data: packUints([]uint64{subfile}, TypeLong)})
		}
		tags = append(tags, shortOrLong(TagImageWidth, l.grid.width), shortOrLong(TagImageLength, l.grid.height),
			shorts(TagTileWidth, uint64(l.grid.block)), shorts(TagTileLength, uint64(l.grid.block)))
		slices.SortFunc(tags, func(a, b Tag) int { return int(a.Code) - int(b.Code) })
		p.tags = tags
		plans, levels, masks = append(plans, p), append(levels, li), append(masks, mask)
	}
	add(0, false)
	if c.Mask {
		add(0, true)
	}
	for li := 1; li < len(e.levels); li++ {
		add(li, false)
	}
	for li := 1; c.Mask && li < len(e.levels); li++ {
		add(li, true)
	}
	return plans, levels, masks
}

// writeHead lays out the head once every section is complete, chooses
// TIFF or BigTIFF by the file's size, and hands the head to the sink.
func (e *Encoder) writeHead() error {
	plans, levels, masks := e.ifdPlans()
	lengths := make([]int64, len(e.levels))
	for _, l := range e.levels {
		lengths[l.section] = l.seq.written
	}
	size := func(h *headLayout) int64 {
		starts := e.sink.Place(h.length, lengths)
		return starts[len(starts)-1] + lengths[len(lengths)-1]
	}
	big := e.cfg.BigTIFF == BigTIFFYes
	layout := layHead(plans, e.cfg.Mask, big)
	if !big && size(layout) > math.MaxUint32 {
		if e.cfg.BigTIFF == BigTIFFNo {
			return fmt.Errorf("the COG has %d bytes, too many for a classic TIFF (BIGTIFF=NO)", size(layout))
		}
		layout = layHead(plans, e.cfg.Mask, true)
	}
	starts := e.sink.Place(layout.length, lengths)
	offsets := make([][]uint64, len(plans))
	counts := make([][]uint64, len(plans))
	for i := range plans {
		l := e.levels[levels[i]]
		base := starts[l.section]
		offsets[i], counts[i] = make([]uint64, plans[i].blocks), make([]uint64, plans[i].blocks)
		for t := range offsets[i] {
			at, n := l.seq.at[t]+4, l.seq.image[t]-8
			if masks[i] {
				at, n = l.seq.at[t]+l.seq.image[t]+4, l.seq.length[t]-l.seq.image[t]-8
			}
			offsets[i][t], counts[i][t] = uint64(base+at), uint64(n)
		}
	}
	return e.sink.Finish(layout.writeHead(plans, offsets, counts))
}
