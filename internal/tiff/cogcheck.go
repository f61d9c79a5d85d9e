package tiff

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// COGReport is the verdict of the rules of GDAL's own COG validator
// (validate_cloud_optimized_geotiff.py, GDAL 3.6) on one file, in its words:
// errors make the file an invalid COG, warnings do not.
type COGReport struct {
	Errors, Warnings []string
}

// Valid reports a file without errors.
func (r *COGReport) Valid() bool { return len(r.Errors) == 0 }

func (r *COGReport) errorf(format string, args ...any) {
	r.Errors = append(r.Errors, fmt.Sprintf(format, args...))
}

// GhostHeader is what GDAL's structural metadata (the "ghost header" the
// COG driver writes right after the TIFF header) claims about the layout.
type GhostHeader struct {
	Present                    bool
	BlockOrderRowMajor         bool  // blocks of each level in row-major order
	BlockLeaderSizeAsUint4     bool  // each block preceded by its size, 4 bytes little-endian
	BlockTrailerLast4Repeated  bool  // each block followed by a copy of its last 4 bytes
	MaskInterleavedWithImagery bool  // each mask block right after its imagery block
	KnownIncompatibleEdition   bool  // the file was edited after the COG was written
	IFDOffset                  int64 // where the first IFD must start after it
}

const ghostPattern = "GDAL_STRUCTURAL_METADATA_SIZE=000000 bytes\n"

// resolution is one level of the raster as GDAL sees it: the image, and its
// internal mask when it has one.
type resolution struct {
	im   *Image
	mask *Image
}

// maxOverviews is GDAL's cap on the overviews it opens (a guard against
// denial of service); later reduced IFDs are ignored, as GDAL ignores them.
const maxOverviews = 30

// COGCheck says how far CheckCOG goes.
type COGCheck struct {
	// Full checks the claims of the ghost header against the bytes of
	// every block (block order, leader and trailer bytes, masks interleaved
	// with their imagery), as GDAL's validator does for local files.
	Full bool
	// ExternalOverviews: the file has overviews in a sidecar .ovr file
	// (an error of its own), so none are missing.
	ExternalOverviews bool
}

// CheckCOG applies GDAL's COG rules to f: tiling, overviews (present, in
// decreasing size, their IFDs in increasing offsets), the order of the
// image data (smallest overview first, full resolution last, after every
// IFD), the ghost header's place and, as c says, its claims.
//
// A structure GDAL would refuse or cannot describe is an error of the
// report; only a failure to read the source is returned as an error.
func CheckCOG(f *File, c COGCheck) (*COGReport, error) {
	r := &COGReport{}
	if c.ExternalOverviews {
		r.errorf("Overviews found in external .ovr file. They should be internal")
	}
	main, ovrs, err := f.resolutions()
	if err != nil {
		return r.malformed(err)
	}
	width, height := main.im.Width, main.im.Height
	if width > 512 || height > 512 {
		if !tiledForGDAL(main.im) {
			r.errorf("The file is greater than 512xH or Wx512, but is not tiled")
		}
		if len(ovrs) == 0 && !c.ExternalOverviews {
			r.Warnings = append(r.Warnings, "The file is greater than 512xH or Wx512, it is recommended to include internal overviews")
		}
	}

	ifdOffsets := []int64{main.im.IFD.Offset}
	var ghost GhostHeader
	if off := main.im.IFD.Offset; off != 8 && off != 16 {
		if ghost, err = f.Ghost(); err != nil {
			return r.malformed(err)
		}
		if ghost.KnownIncompatibleEdition {
			r.errorf("KNOWN_INCOMPATIBLE_EDITION=YES is declared in the file")
		}
		if ghost.IFDOffset != off {
			r.errorf("The offset of the main IFD should be %d. It is %d instead", ghost.IFDOffset, off)
		}
	}

	for i, o := range ovrs {
		prev := main.im
		if i > 0 {
			prev = ovrs[i-1].im
		}
		if o.im.Width > prev.Width || o.im.Height > prev.Height {
			if i == 0 {
				r.errorf("First overview has larger dimension than main band")
			} else {
				r.errorf("Overview of index %d has larger dimension than overview of index %d", i, i-1)
			}
		}
		if !tiledForGDAL(o.im) {
			r.errorf("Overview of index %d is not tiled", i)
		}
		ifdOffsets = append(ifdOffsets, o.im.IFD.Offset)
		if last, before := ifdOffsets[i+1], ifdOffsets[i]; last < before {
			if i == 0 {
				r.errorf("The offset of the IFD for overview of index %d is %d, whereas it should be greater than the one of the main image, which is at byte %d", i, last, before)
			} else {
				r.errorf("The offset of the IFD for overview of index %d is %d, whereas it should be greater than the one of index %d, which is at byte %d", i, last, i-1, before)
			}
		}
	}

	budget := int64(maxCheckedBlocks)
	dataOffsets := make([]uint64, 0, 1+len(ovrs))
	for _, l := range append([]resolution{main}, ovrs...) {
		off, err := firstBlockOffset(l.im, &budget)
		if err != nil {
			return r.malformed(err)
		}
		dataOffsets = append(dataOffsets, off)
	}
	n := len(dataOffsets)
	if last := dataOffsets[n-1]; last != 0 && last < uint64(ifdOffsets[n-1]) {
		if len(ovrs) > 0 {
			r.errorf("The offset of the first block of the smallest overview should be after its IFD")
		} else {
			r.errorf("The offset of the first block of the image should be after its IFD")
		}
	}
	for i := n - 2; i > 0; i-- {
		if dataOffsets[i] != 0 && dataOffsets[i] < dataOffsets[i+1] {
			r.errorf("The offset of the first block of overview of index %d should be after the one of the overview of index %d", i-1, i)
		}
	}
	if n >= 2 && dataOffsets[0] != 0 && dataOffsets[0] < dataOffsets[1] {
		r.errorf("The offset of the first block of the main resolution image should be after the one of the overview of index %d", len(ovrs)-1)
	}

	if c.Full && (ghost.BlockOrderRowMajor || ghost.BlockLeaderSizeAsUint4 || ghost.BlockTrailerLast4Repeated || ghost.MaskInterleavedWithImagery) {
		check := blockCheck{f: f, ghost: ghost, r: r, budget: &budget}
		if err := check.level("Main resolution image", "Mask band of main resolution image", main); err != nil {
			return r.malformed(err)
		}
		for i, o := range ovrs {
			if err := check.level(fmt.Sprintf("Overview %d", i), fmt.Sprintf("Mask band of overview %d", i), o); err != nil {
				return r.malformed(err)
			}
		}
	}
	return r, nil
}

// malformed turns a structural error into the report's verdict; read
// failures stay errors.
func (r *COGReport) malformed(err error) (*COGReport, error) {
	var m *Error
	if !errors.As(err, &m) {
		return nil, err
	}
	r.errorf("The file is not a valid GeoTIFF: %s", m.Msg)
	return r, nil
}

// tiledForGDAL is GDAL's test: a block as wide as an image wider than 1024 cells
// is a strip.
func tiledForGDAL(im *Image) bool { return !(im.BlockWidth == im.Width && im.BlockWidth > 1024) }

// resolutions sorts the IFDs as GDAL's GTiff driver does: IFD 0 is the image,
// later reduced-resolution IFDs with as many samples are its overviews (in
// chain order, at most 30), the first later full-resolution mask IFD is its
// mask, and each reduced mask belongs to the first overview of its size
// that has none yet. Pages and IFDs GDAL would not attach are ignored.
func (f *File) resolutions() (resolution, []resolution, error) {
	im, err := f.Image(0)
	if err != nil {
		return resolution{}, nil, err
	}
	main := resolution{im: im}
	var ovrs []resolution
	for i := 1; i < len(f.IFDs); i++ {
		sub, err := f.Uint(f.IFDs[i], TagNewSubfileType, 0)
		if err != nil {
			return resolution{}, nil, err
		}
		reduced, mask := sub&SubfileReduced != 0, sub&SubfileMask != 0
		if !reduced && !mask {
			continue // a page: GDAL shows it as a subdataset
		}
		if reduced && !mask && len(ovrs) == maxOverviews {
			continue
		}
		o, err := f.Image(i)
		if err != nil {
			return resolution{}, nil, err
		}
		switch {
		case reduced && !mask:
			if o.SamplesPerPixel == im.SamplesPerPixel {
				ovrs = append(ovrs, resolution{im: o})
			}
		case mask && !reduced:
			if main.mask == nil && maskFits(o, im) {
				main.mask = o
			}
		default:
			for k := range ovrs {
				if ovrs[k].mask == nil && maskFits(o, ovrs[k].im) {
					ovrs[k].mask = o
					break
				}
			}
		}
	}
	return main, ovrs, nil
}

// maskFits is GDAL's test for a mask of im: one sample or one per band,
// the same size, and 8 or fewer bits per sample (GDAL's Byte type).
func maskFits(mask, im *Image) bool {
	return (mask.SamplesPerPixel == 1 || mask.SamplesPerPixel == im.SamplesPerPixel) &&
		mask.Width == im.Width && mask.Height == im.Height &&
		mask.BitsPerSample <= 8 && mask.SampleFormat != SampleFloat
}

// Ghost reads GDAL's structural metadata right after the header, if the
// file has it. Without it, IFDOffset is where the first IFD would start
// right after the header.
func (f *File) Ghost() (GhostHeader, error) {
	g := GhostHeader{IFDOffset: 8}
	if f.BigTIFF {
		g.IFDOffset = 16
	}
	head := make([]byte, min(int64(len(ghostPattern)), max(0, f.size-g.IFDOffset)))
	if err := readFull(f.src, head, g.IFDOffset); err != nil {
		return g, err
	}
	const prefix = "GDAL_STRUCTURAL_METADATA_SIZE="
	if len(head) < len(ghostPattern) || !strings.HasPrefix(string(head), prefix) {
		return g, nil
	}
	digits := string(head[len(prefix) : len(prefix)+6])
	size, err := strconv.ParseUint(digits, 10, 32)
	if err != nil {
		return g, malformed("the ghost header's GDAL_STRUCTURAL_METADATA_SIZE %q is not a number", digits)
	}
	body := make([]byte, min(int64(size), f.size-g.IFDOffset-int64(len(ghostPattern))))
	if err := readFull(f.src, body, g.IFDOffset+int64(len(ghostPattern))); err != nil {
		return g, err
	}
	text := string(body)
	g.Present = true
	g.BlockOrderRowMajor = strings.Contains(text, "BLOCK_ORDER=ROW_MAJOR")
	g.BlockLeaderSizeAsUint4 = strings.Contains(text, "BLOCK_LEADER=SIZE_AS_UINT4")
	g.BlockTrailerLast4Repeated = strings.Contains(text, "BLOCK_TRAILER=LAST_4_BYTES_REPEATED")
	g.MaskInterleavedWithImagery = strings.Contains(text, "MASK_INTERLEAVED_WITH_IMAGERY=YES")
	g.KnownIncompatibleEdition = strings.Contains(text, "KNOWN_INCOMPATIBLE_EDITION=YES")
	g.IFDOffset += int64(len(ghostPattern)) + int64(size)
	g.IFDOffset += g.IFDOffset % 2 // an IFD starts on a word boundary
	return g, nil
}

// spanChunk bounds how many block offsets are read at once.
const spanChunk = 4096

// maxCheckedBlocks bounds the blocks one check visits: a raster of 2^31
// cells a side in 256 x 256 tiles has fewer, but IFDs may share one huge
// array of offsets, and a crafted file must not cost hours.
const maxCheckedBlocks = 1 << 28

// eachBlock calls fn for the blocks of plane 0 (band 1, as GDAL's checks
// use) in row-major order, until fn returns false; every block visited
// counts against budget.
func eachBlock(im *Image, budget *int64, fn func(bx, by int64, s Span) bool) error {
	for by := int64(0); by < im.BlocksDown(); by++ {
		for bx0 := int64(0); bx0 < im.BlocksAcross(); bx0 += spanChunk {
			n := min(spanChunk, im.BlocksAcross()-bx0)
			if *budget -= n; *budget < 0 {
				return malformed("more than %d blocks to check", maxCheckedBlocks)
			}
			spans, err := im.Spans(0, by, bx0, n)
			if err != nil {
				return err
			}
			for k, s := range spans {
				if !fn(bx0+int64(k), by, s) {
					return nil
				}
			}
		}
	}
	return nil
}

// firstBlockOffset is the offset of the first block of band 1 that has
// data, 0 when every block is sparse.
func firstBlockOffset(im *Image, budget *int64) (uint64, error) {
	var first uint64
	err := eachBlock(im, budget, func(_, _ int64, s Span) bool {
		first = s.Off
		return s.N == 0
	})
	return first, err
}

// blockCheck checks the ghost header's claims against every block.
type blockCheck struct {
	f      *File
	ghost  GhostHeader
	r      *COGReport
	budget *int64
}

// level checks a level's imagery (with its mask when the ghost header says
// masks are interleaved with it), then its per-dataset mask on its own.
func (c *blockCheck) level(name, maskName string, l resolution) error {
	if err := c.band(name, l.im, l.mask, c.ghost.MaskInterleavedWithImagery); err != nil {
		return err
	}
	if l.mask != nil && l.mask.SamplesPerPixel == 1 {
		return c.band(maskName, l.mask, nil, false)
	}
	return nil
}

// band follows full_check_band of GDAL's validator over the blocks of im
// and, when interleaved, of its mask.
func (c *blockCheck) band(name string, im, mask *Image, interleaved bool) error {
	var maskSpans []Span
	if interleaved && mask != nil {
		if mask.BlockWidth != im.BlockWidth || mask.BlockHeight != im.BlockHeight {
			c.r.errorf("%s: mask block size is different from its imagery band", name)
			mask = nil
		}
	} else {
		mask = nil
	}
	var last uint64
	var failed error
	var word [8]byte
	err := eachBlock(im, c.budget, func(bx, by int64, s Span) bool {
		if s.N > 0 {
			if c.ghost.BlockOrderRowMajor && s.Off < last {
				c.r.errorf("%s: offset of block (%d, %d) is smaller than previous block", name, bx, by)
			}
			if c.ghost.BlockLeaderSizeAsUint4 {
				if failed = c.read(word[:4], int64(s.Off)-4); failed != nil {
					return false
				}
				if leader := binary.LittleEndian.Uint32(word[:4]); uint64(leader) != s.N {
					c.r.errorf("%s: for block (%d, %d), size in leader bytes is %d instead of %d", name, bx, by, leader, s.N)
				}
			}
			if c.ghost.BlockTrailerLast4Repeated && s.N >= 4 {
				at := int64(s.Off+s.N) - 4
				inside := at+8 <= c.f.size // a block at the very end has no trailer
				if inside {
					if failed = c.read(word[:], at); failed != nil {
						return false
					}
				}
				if !inside || string(word[:4]) != string(word[4:]) {
					c.r.errorf("%s: for block (%d, %d), trailer bytes are invalid", name, bx, by)
				}
			}
		}
		offset := s.Off
		if s.N == 0 {
			offset = 0
		}
		if mask != nil {
			if bx%spanChunk == 0 {
				if maskSpans, failed = mask.Spans(0, by, bx, min(spanChunk, mask.BlocksAcross()-bx)); failed != nil {
					return false
				}
			}
			m := maskSpans[bx%spanChunk]
			switch {
			case offset > 0 && m.N > 0:
				want := offset + s.N
				if c.ghost.BlockLeaderSizeAsUint4 {
					want += 4
				}
				if c.ghost.BlockTrailerLast4Repeated {
					want += 4
				}
				if m.Off != want {
					c.r.errorf("Mask of %s: for block (%d, %d), offset is %d, whereas %d was expected", name, bx, by, m.Off, want)
				}
			case offset == 0 && m.N > 0:
				if c.ghost.BlockOrderRowMajor && m.Off < last {
					c.r.errorf("Mask of %s: offset of block (%d, %d) is smaller than previous block", name, bx, by)
				}
				offset = m.Off
			}
		}
		last = offset
		return true
	})
	if err == nil {
		err = failed
	}
	return err
}

// read reads len(p) bytes at off; bytes outside the file are a malformed
// block, not a read failure.
func (c *blockCheck) read(p []byte, off int64) error {
	if off < 0 || off > c.f.size-int64(len(p)) {
		return malformed("%d bytes at offset %d around a block lie outside the %d-byte file", len(p), off, c.f.size)
	}
	return readFull(c.f.src, p, off)
}
