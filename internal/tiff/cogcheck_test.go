package tiff

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
)

const testGhost = "LAYOUT=IFDS_BEFORE_DATA\nBLOCK_ORDER=ROW_MAJOR\nBLOCK_LEADER=SIZE_AS_UINT4\nBLOCK_TRAILER=LAST_4_BYTES_REPEATED\nKNOWN_INCOMPATIBLE_EDITION=NO\n "

// tinyCOG lays out a COG as GDAL's driver does: the header, the ghost
// header, the IFDs of a 32 x 32 image of 16 x 16 one-byte tiles and of its
// 16 x 16 overview, the tile offsets, then the data, smallest level first,
// each block between its leader and trailer. swap exchanges the first two
// tiles of the full resolution in the file.
func tinyCOG(swap bool) []byte {
	le := binary.LittleEndian
	out := []byte("II*\x00\x00\x00\x00\x00")
	out = append(out, fmt.Sprintf("GDAL_STRUCTURAL_METADATA_SIZE=%06d bytes\n", len(testGhost))...)
	out = append(out, testGhost...)
	if len(out)%2 == 1 {
		out = append(out, 0)
	}
	le.PutUint32(out[4:], uint32(len(out)))
	const ifdLen = 2 + 10*12 + 4
	ifd0 := len(out)
	arrays := ifd0 + 2*ifdLen
	data := arrays + 32
	payload := func(i int) []byte { return []byte(fmt.Sprintf("tile%04d", i)) }
	var blocks []byte
	var offsets []int
	for i := 0; i < 5; i++ { // the overview's block, then the 4 of the full resolution
		p := payload(i)
		blocks = le.AppendUint32(blocks, uint32(len(p)))
		offsets = append(offsets, data+len(blocks))
		blocks = append(blocks, p...)
		blocks = append(blocks, p[len(p)-4:]...)
	}
	if swap {
		offsets[1], offsets[2] = offsets[2], offsets[1]
	}
	entry := func(b []byte, tag, typ uint16, count, value uint32) []byte {
		b = le.AppendUint16(b, tag)
		b = le.AppendUint16(b, typ)
		b = le.AppendUint32(b, count)
		if typ == TypeShort && count == 1 {
			return le.AppendUint32(b, value&0xffff)
		}
		return le.AppendUint32(b, value)
	}
	ifd := func(sub uint32, side uint32, offs, counts uint32, n uint32, next uint32) []byte {
		b := le.AppendUint16(nil, 10)
		b = entry(b, TagNewSubfileType, TypeLong, 1, sub)
		b = entry(b, TagImageWidth, TypeShort, 1, side)
		b = entry(b, TagImageLength, TypeShort, 1, side)
		b = entry(b, TagBitsPerSample, TypeShort, 1, 8)
		b = entry(b, TagCompression, TypeShort, 1, CompressionNone)
		b = entry(b, TagSamplesPerPixel, TypeShort, 1, 1)
		b = entry(b, TagTileWidth, TypeShort, 1, 16)
		b = entry(b, TagTileLength, TypeShort, 1, 16)
		b = entry(b, TagTileOffsets, TypeLong, n, offs)
		b = entry(b, TagTileByteCounts, TypeLong, n, counts)
		return le.AppendUint32(b, next)
	}
	out = append(out, ifd(0, 32, uint32(arrays), uint32(arrays+16), 4, uint32(ifd0+ifdLen))...)
	out = append(out, ifd(SubfileReduced, 16, uint32(offsets[0]), 8, 1, 0)...)
	for _, o := range offsets[1:] {
		out = le.AppendUint32(out, uint32(o))
	}
	for range 4 {
		out = le.AppendUint32(out, 8)
	}
	return append(out, blocks...)
}

func check(t *testing.T, data []byte, full bool) *COGReport {
	t.Helper()
	f, err := Open(Bytes(data), DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	r, err := CheckCOG(f, COGCheck{Full: full})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestCheckCOG(t *testing.T) {
	good := tinyCOG(false)
	if r := check(t, good, true); !r.Valid() || len(r.Warnings) > 0 {
		t.Fatalf("a well-formed COG: %+v", r)
	}
	f, _ := Open(Bytes(good), DefaultLimits)
	if g, err := f.Ghost(); err != nil || !g.Present || !g.BlockOrderRowMajor || !g.BlockLeaderSizeAsUint4 ||
		!g.BlockTrailerLast4Repeated || g.MaskInterleavedWithImagery || g.KnownIncompatibleEdition || g.IFDOffset != f.FirstIFD {
		t.Fatalf("ghost header %+v, %v", g, err)
	}

	swapped := tinyCOG(true)
	if r := check(t, swapped, false); !r.Valid() {
		t.Fatalf("block order is a byte-level check: %+v", r)
	}
	if r := check(t, swapped, true); len(r.Errors) != 1 || r.Errors[0] != "Main resolution image: offset of block (1, 0) is smaller than previous block" {
		t.Fatalf("swapped blocks: %+v", r)
	}

	lied := append([]byte(nil), good...)
	copy(lied[strings.Index(string(lied), "tile0003")-4:], "\x09\x00\x00\x00")
	r := check(t, lied, true)
	if len(r.Errors) != 1 || r.Errors[0] != "Main resolution image: for block (0, 1), size in leader bytes is 9 instead of 8" {
		t.Fatalf("a wrong leader: %+v", r)
	}
}

// FuzzCheckCOG: any bytes give a report or a read error, never a panic.
func FuzzCheckCOG(f *testing.F) {
	f.Add(tinyCOG(false))
	f.Add(tinyCOG(true))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Open(Bytes(data), Limits{MaxIFDs: 16, MaxEntries: 64, MaxValueBytes: 1 << 20})
		if err != nil {
			return
		}
		if _, err := CheckCOG(file, COGCheck{Full: true}); err != nil {
			t.Fatalf("an in-memory file cannot fail to read: %v", err)
		}
	})
}

// The blocks a check visits are bounded, whatever the file claims.
func TestBlockBudget(t *testing.T) {
	f, err := Open(Bytes(tinyCOG(false)), DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	im, _ := f.Image(0)
	for budget, ok := range map[int64]bool{4: true, 3: false} {
		left := budget
		err := eachBlock(im, &left, func(_, _ int64, _ Span) bool { return true })
		var m *Error
		if (err == nil) != ok || (err != nil && !errors.As(err, &m)) {
			t.Errorf("a budget of %d blocks for 4: %v", budget, err)
		}
	}
}
