package tiff

import (
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"
)

// field is one tag of a test IFD.
type field struct {
	tag, typ uint16
	values   []uint64 // numbers, or the bytes of an ASCII value
}

// craft lays out a TIFF (or BigTIFF) file: the header, then each IFD
// followed by the values that do not fit in their entries. It writes
// exactly what it is given, lies included.
func craft(big bool, order binary.ByteOrder, ifds ...[]field) []byte {
	out := make([]byte, 8)
	if order == binary.LittleEndian {
		copy(out, "II")
	} else {
		copy(out, "MM")
	}
	countLen, entryLen, nextLen, inline := 2, 12, 4, 4
	order.PutUint16(out[2:], 42)
	if big {
		out = make([]byte, 16)
		copy(out, map[bool]string{true: "II", false: "MM"}[order == binary.LittleEndian])
		order.PutUint16(out[2:], 43)
		order.PutUint16(out[4:], 8)
		countLen, entryLen, nextLen, inline = 8, 20, 8, 8
	}
	putOff := func(at int, v uint64) {
		if big {
			order.PutUint64(out[at:], v)
		} else {
			order.PutUint32(out[at:], uint32(v))
		}
	}
	pointer := 4
	if big {
		pointer = 8
	}
	for _, fields := range ifds {
		start := len(out)
		putOff(pointer, uint64(start))
		ifd := make([]byte, countLen+len(fields)*entryLen+nextLen)
		out = append(out, ifd...)
		if big {
			order.PutUint64(out[start:], uint64(len(fields)))
		} else {
			order.PutUint16(out[start:], uint16(len(fields)))
		}
		for i, f := range fields {
			at := start + countLen + i*entryLen
			order.PutUint16(out[at:], f.tag)
			order.PutUint16(out[at+2:], f.typ)
			countAt := at + 4
			valueAt := at + 8
			if big {
				order.PutUint64(out[countAt:], uint64(len(f.values)))
				valueAt = at + 12
			} else {
				order.PutUint32(out[countAt:], uint32(len(f.values)))
			}
			value := encode(order, f.typ, f.values)
			if len(value) <= inline {
				copy(out[valueAt:], value)
				continue
			}
			putOff(valueAt, uint64(len(out)))
			out = append(out, value...)
		}
		pointer = start + countLen + len(fields)*entryLen
	}
	return out
}

func encode(order binary.ByteOrder, typ uint16, values []uint64) []byte {
	size := TypeSize(typ)
	out := make([]byte, size*len(values))
	for i, v := range values {
		switch size {
		case 1:
			out[i] = byte(v)
		case 2:
			order.PutUint16(out[2*i:], uint16(v))
		case 4:
			order.PutUint32(out[4*i:], uint32(v))
		case 8:
			order.PutUint64(out[8*i:], v)
		}
	}
	return out
}

func short(tag uint16, v ...uint64) field { return field{tag, TypeShort, v} }
func long(tag uint16, v ...uint64) field  { return field{tag, TypeLong, v} }
func long8(tag uint16, v ...uint64) field { return field{tag, TypeLong8, v} }

// tiled is a 2 x 2-tile image of 16 x 16 Float32 tiles whose offsets and
// byte counts are given.
func tiled(offsetField func(uint16, ...uint64) field, offsets, counts []uint64) []field {
	return []field{short(TagImageWidth, 32), short(TagImageLength, 32), short(TagBitsPerSample, 32),
		short(TagCompression, CompressionDeflate), short(TagSamplesPerPixel, 1), short(TagTileWidth, 16),
		short(TagTileLength, 16), offsetField(TagTileOffsets, offsets...), offsetField(TagTileByteCounts, counts...),
		short(TagSampleFormat, SampleFloat)}
}

func open(t *testing.T, file []byte) (*File, error) {
	t.Helper()
	return Open(Bytes(file), DefaultLimits)
}

func TestOpenReadsTheLayout(t *testing.T) {
	for _, big := range []bool{false, true} {
		for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
			offField := long
			if big {
				offField = long8
			}
			file := craft(big, order, tiled(offField, []uint64{8, 9, 10, 0}, []uint64{1, 1, 1, 0}),
				[]field{short(TagImageWidth, 16), short(TagImageLength, 16), short(TagNewSubfileType, SubfileReduced),
					short(TagRowsPerStrip, 5), long(TagStripOffsets, 8, 8, 8, 8), long(TagStripByteCounts, 1, 2, 3, 4)})
			f, err := open(t, file)
			if err != nil {
				t.Fatalf("big=%v %v: %v", big, order, err)
			}
			if f.BigTIFF != big || f.Order != order || len(f.IFDs) != 2 {
				t.Fatalf("big=%v %v: got BigTIFF=%v order=%v %d IFDs", big, order, f.BigTIFF, f.Order, len(f.IFDs))
			}
			im, err := f.Image(0)
			if err != nil {
				t.Fatal(err)
			}
			if !im.Tiled || im.Width != 32 || im.BlockWidth != 16 || im.BitsPerSample != 32 || im.SampleFormat != SampleFloat ||
				im.Compression != CompressionDeflate || im.BlocksAcross() != 2 || im.BlocksDown() != 2 || im.BlockLen() != 16*16*4 {
				t.Fatalf("image 0: %+v", im)
			}
			spans, err := im.Spans(0, 1, 0, 2)
			if err != nil {
				t.Fatal(err)
			}
			if spans[0] != (Span{10, 1}) || spans[1] != (Span{}) {
				t.Fatalf("spans of block row 1: %v", spans)
			}
			strips, err := f.Image(1)
			if err != nil {
				t.Fatal(err)
			}
			if strips.Tiled || strips.BlockHeight != 5 || strips.BlocksDown() != 4 || strips.SubfileType != SubfileReduced {
				t.Fatalf("image 1: %+v", strips)
			}
			if spans, err = strips.Spans(0, 3, 0, 1); err != nil || spans[0] != (Span{8, 4}) {
				t.Fatalf("last strip: %v, %v", spans, err)
			}
		}
	}
}

// The byte counts of the crafted BigTIFFs (2^40 .. 2^64-1), and
// offsets just as wrong, are errors that name the block, never a panic or
// an allocation of that size.
func TestSpansPastTheFileAreErrors(t *testing.T) {
	for _, count := range []uint64{1 << 40, 1 << 62, 1<<63 + 5, math.MaxUint64} {
		file := craft(true, binary.LittleEndian, tiled(long8, []uint64{16, 16, 16, 16}, []uint64{1, 1, 1, count}))
		f, err := open(t, file)
		if err != nil {
			t.Fatal(err)
		}
		im, err := f.Image(0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := im.Spans(0, 0, 0, 2); err != nil {
			t.Fatalf("count %d: the first row is sound: %v", count, err)
		}
		_, err = im.Spans(0, 1, 0, 2)
		var malformedErr *Error
		if !errors.As(err, &malformedErr) || !strings.Contains(err.Error(), "tile (1, 1)") {
			t.Fatalf("count %d: got %v, want an error naming tile (1, 1)", count, err)
		}
	}
	file := craft(false, binary.LittleEndian, tiled(long, []uint64{8, 8, 8, math.MaxUint32}, []uint64{1, 1, 1, 1}))
	f, _ := open(t, file)
	im, _ := f.Image(0)
	if _, err := im.Spans(0, 1, 0, 2); err == nil {
		t.Fatal("an offset past the end of the file was accepted")
	}
}

func TestMalformedStructureIsAnError(t *testing.T) {
	good := tiled(long, []uint64{8, 8, 8, 8}, []uint64{1, 1, 1, 1})
	cases := map[string][]byte{
		"empty":            {},
		"not TIFF":         []byte("GIF89a\x00\x00\x00\x00"),
		"bad version":      {'I', 'I', 44, 0, 8, 0, 0, 0},
		"IFD past end":     {'I', 'I', 42, 0, 0xff, 0xff, 0, 0},
		"too few blocks":   craft(false, binary.LittleEndian, replaceAll(good, long(TagTileOffsets, 8, 8, 8))),
		"huge tile":        craft(false, binary.LittleEndian, replaceAll(good, long(TagTileWidth, 1<<20))),
		"zero width":       craft(false, binary.LittleEndian, replaceAll(good, short(TagImageWidth, 0))),
		"bits per sample":  craft(false, binary.LittleEndian, replaceAll(good, short(TagBitsPerSample, 200))),
		"ascii offsets":    craft(false, binary.LittleEndian, replaceAll(good, field{TagTileOffsets, TypeASCII, []uint64{'a', 'b', 'c', 0}})),
		"mixed samples":    craft(false, binary.LittleEndian, replaceAll(good, short(TagBitsPerSample, 8, 16), short(TagSamplesPerPixel, 2))),
		"value past end":   craft(false, binary.LittleEndian, good)[:60],
		"huge value count": craftHugeCount(),
	}
	for name, file := range cases {
		f, err := Open(Bytes(file), DefaultLimits)
		if err == nil {
			_, err = f.Image(0)
		}
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// replaceAll is fields with each of with in place of the field of its tag.
func replaceAll(fields []field, with ...field) []field {
	out := append([]field(nil), fields...)
	for _, w := range with {
		for i := range out {
			if out[i].tag == w.tag {
				out[i] = w
			}
		}
	}
	return out
}

// craftHugeCount is a BigTIFF whose one entry claims 2^61 LONG8 values.
func craftHugeCount() []byte {
	file := craft(true, binary.LittleEndian, []field{long8(TagTileOffsets, 16)})
	binary.LittleEndian.PutUint64(file[16+8+4:], 1<<61)
	return file
}

func TestIFDChainLoopIsAnError(t *testing.T) {
	file := craft(false, binary.LittleEndian, []field{short(TagImageWidth, 1)})
	binary.LittleEndian.PutUint32(file[8+2+12:], 8) // the next IFD is itself
	if _, err := open(t, file); err == nil || !strings.Contains(err.Error(), "loops") {
		t.Fatalf("got %v, want a loop error", err)
	}
}

func TestValues(t *testing.T) {
	file := craft(false, binary.BigEndian, []field{
		{TagGDALNoData, TypeASCII, []uint64{'-', '9', '9', '9', '9', 0}},
		{TagModelPixelScale, TypeDouble, []uint64{math.Float64bits(30), math.Float64bits(-30), 0}},
		short(TagBitsPerSample, 8, 8, 8),
	})
	f, err := open(t, file)
	if err != nil {
		t.Fatal(err)
	}
	d := f.IFDs[0]
	e, _ := d.Entry(TagGDALNoData)
	if s, err := f.ASCII(e); err != nil || s != "-9999" {
		t.Fatalf("ASCII: %q, %v", s, err)
	}
	e, _ = d.Entry(TagModelPixelScale)
	if v, err := f.Floats(e); err != nil || v[0] != 30 || v[1] != -30 || len(v) != 3 {
		t.Fatalf("Floats: %v, %v", v, err)
	}
	e, _ = d.Entry(TagBitsPerSample)
	if v, err := f.Uints(e, 1, 2); err != nil || v[0] != 8 || len(v) != 2 {
		t.Fatalf("Uints: %v, %v", v, err)
	}
	if _, err := f.Uints(e, 2, 2); err == nil {
		t.Fatal("values past the count were read")
	}
	if _, err := f.ASCII(e); err == nil {
		t.Fatal("a SHORT tag was read as ASCII")
	}
}

// FuzzOpen feeds arbitrary bytes through the header, IFD and layout
// parsers and every block span: any input gives a value or an error, never
// a panic, and nothing is allocated beyond the input's size and the limits.
func FuzzOpen(f *testing.F) {
	f.Add(craft(false, binary.LittleEndian, tiled(long, []uint64{8, 9, 10, 0}, []uint64{1, 1, 1, 0})))
	for _, count := range []uint64{1 << 40, 1 << 62, 1<<63 + 5, math.MaxUint64} {
		f.Add(craft(true, binary.LittleEndian, tiled(long8, []uint64{16, 16, 16, 16}, []uint64{1, 1, 1, count})))
	}
	f.Add(craft(true, binary.BigEndian, []field{short(TagImageWidth, 16), short(TagImageLength, 16),
		long(TagStripOffsets, 8), long(TagStripByteCounts, 256), short(TagPlanarConfig, PlanarSeparate)}))
	f.Add(craftHugeCount())
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Open(Bytes(data), Limits{MaxIFDs: 16, MaxEntries: 64, MaxValueBytes: 1 << 20})
		if err != nil {
			return
		}
		for i := range file.IFDs {
			im, err := file.Image(i)
			if err != nil {
				continue
			}
			for plane := 0; plane < min(im.Planes(), 4); plane++ {
				for by := int64(0); by < min(im.BlocksDown(), 4); by++ {
					spans, err := im.Spans(plane, by, 0, min(im.BlocksAcross(), 64))
					for _, s := range spans {
						if err == nil && s.N > 0 && s.Off+s.N > uint64(len(data)) {
							t.Fatalf("span %v is outside the %d-byte file", s, len(data))
						}
					}
				}
			}
		}
	})
}
