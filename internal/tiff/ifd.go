package tiff

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"strings"
)

// Limits bound what a file may make the parser do. A real GeoTIFF stays far
// below them; a crafted one hits them before it costs memory or time.
type Limits struct {
	MaxIFDs       int   // IFDs in the main chain (a COG: one per level, twice with masks)
	MaxEntries    int   // entries in one IFD
	MaxValueBytes int64 // bytes of one tag's value read at once
}

// DefaultLimits suit any raster cloudio handles (a COG of 2^31-cell sides
// has 32 levels, twice that with masks). Block offsets are not bounded by
// MaxValueBytes as a whole: they are read a block row at a time (Image.Spans).
var DefaultLimits = Limits{MaxIFDs: 512, MaxEntries: 1024, MaxValueBytes: 256 << 20}

// File is the structure of a TIFF or BigTIFF file: its byte order and the
// IFDs of its main chain, in file order of the chain.
type File struct {
	Order    binary.ByteOrder
	BigTIFF  bool
	FirstIFD int64 // offset of the first IFD
	IFDs     []*IFD
	src      Source
	size     int64
	limits   Limits
}

// IFD is one image file directory.
type IFD struct {
	Index   int   // position in the chain, from 0
	Offset  int64 // where it starts
	Len     int64 // its bytes: entry count, entries and next-IFD offset
	Next    int64 // offset of the next IFD, 0 for the last
	Entries []Entry
}

// Entry is one tag of an IFD. Offset is where its value lives: inside the
// entry when it fits there (Inline), elsewhere in the file otherwise.
type Entry struct {
	Tag    uint16
	Type   uint16
	Count  uint64
	Offset int64
	Inline bool
}

// Entry returns the entry of tag, if the IFD has one.
func (d *IFD) Entry(tag uint16) (Entry, bool) {
	for _, e := range d.Entries {
		if e.Tag == tag {
			return e, true
		}
	}
	return Entry{}, false
}

// Error is a malformed file: what is wrong, and where.
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

func malformed(format string, args ...any) error { return &Error{Msg: fmt.Sprintf(format, args...)} }

// Open reads the header and the IFD chain of src within limits.
func Open(src Source, limits Limits) (*File, error) {
	f := &File{src: src, size: src.Size(), limits: limits}
	var head [16]byte
	if f.size < 8 {
		return nil, malformed("not a TIFF file: %d bytes, shorter than a header", f.size)
	}
	if err := readFull(src, head[:8], 0); err != nil {
		return nil, err
	}
	switch string(head[:2]) {
	case "II":
		f.Order = binary.LittleEndian
	case "MM":
		f.Order = binary.BigEndian
	default:
		return nil, malformed("not a TIFF file: the first bytes are %q, not II or MM", head[:2])
	}
	switch magic := f.Order.Uint16(head[2:]); magic {
	case 42:
		f.FirstIFD = int64(f.Order.Uint32(head[4:]))
	case 43:
		if f.size < 16 {
			return nil, malformed("BigTIFF header truncated: the file has %d bytes", f.size)
		}
		if err := readFull(src, head[8:16], 8); err != nil {
			return nil, err
		}
		if f.Order.Uint16(head[4:]) != 8 || f.Order.Uint16(head[6:]) != 0 {
			return nil, malformed("BigTIFF header declares %d-byte offsets; only 8 is defined", f.Order.Uint16(head[4:]))
		}
		f.BigTIFF = true
		off := f.Order.Uint64(head[8:])
		if off > math.MaxInt64 {
			return nil, malformed("first IFD offset %d is outside the %d-byte file", off, f.size)
		}
		f.FirstIFD = int64(off)
	default:
		return nil, malformed("not a TIFF file: version %d is neither 42 (TIFF) nor 43 (BigTIFF)", magic)
	}
	seen := map[int64]bool{}
	for off := f.FirstIFD; off != 0; {
		if len(f.IFDs) == limits.MaxIFDs {
			return nil, malformed("more than %d IFDs", limits.MaxIFDs)
		}
		if seen[off] {
			return nil, malformed("IFD %d points back to the IFD at offset %d: the chain loops", len(f.IFDs)-1, off)
		}
		seen[off] = true
		d, err := f.readIFD(len(f.IFDs), off)
		if err != nil {
			return nil, err
		}
		f.IFDs = append(f.IFDs, d)
		off = d.Next
	}
	if len(f.IFDs) == 0 {
		return nil, malformed("the file has no IFD")
	}
	return f, nil
}

// Size is the file's length in bytes.
func (f *File) Size() int64 { return f.size }

func (f *File) readIFD(index int, off int64) (*IFD, error) {
	countLen, entryLen, nextLen := int64(2), int64(12), int64(4)
	if f.BigTIFF {
		countLen, entryLen, nextLen = 8, 20, 8
	}
	if off < 8 || off > f.size-countLen {
		return nil, malformed("IFD %d at offset %d is outside the %d-byte file", index, off, f.size)
	}
	var buf [8]byte
	if err := readFull(f.src, buf[:countLen], off); err != nil {
		return nil, err
	}
	var n uint64
	if f.BigTIFF {
		n = f.Order.Uint64(buf[:])
	} else {
		n = uint64(f.Order.Uint16(buf[:]))
	}
	if n == 0 || n > uint64(f.limits.MaxEntries) {
		return nil, malformed("IFD %d at offset %d has %d entries (expected 1..%d)", index, off, n, f.limits.MaxEntries)
	}
	length := countLen + int64(n)*entryLen + nextLen
	if length > f.size-off {
		return nil, malformed("IFD %d at offset %d (%d entries) runs past the end of the %d-byte file", index, off, n, f.size)
	}
	raw := make([]byte, length-countLen)
	if err := readFull(f.src, raw, off+countLen); err != nil {
		return nil, err
	}
	d := &IFD{Index: index, Offset: off, Len: length}
	for i := int64(0); i < int64(n); i++ {
		e, err := f.entry(d, raw[i*entryLen:(i+1)*entryLen], off+countLen+i*entryLen)
		if err != nil {
			return nil, err
		}
		d.Entries = append(d.Entries, e)
	}
	next := raw[int64(n)*entryLen:]
	if f.BigTIFF {
		v := f.Order.Uint64(next)
		if v > math.MaxInt64 {
			return nil, malformed("IFD %d: the next IFD's offset %d is outside the %d-byte file", index, v, f.size)
		}
		d.Next = int64(v)
	} else {
		d.Next = int64(f.Order.Uint32(next))
	}
	return d, nil
}

// entry decodes one raw entry found at pos; its value must lie in the file.
func (f *File) entry(d *IFD, raw []byte, pos int64) (Entry, error) {
	e := Entry{Tag: f.Order.Uint16(raw), Type: f.Order.Uint16(raw[2:])}
	valueAt, inlineLen := int64(8), uint64(4)
	if f.BigTIFF {
		e.Count = f.Order.Uint64(raw[4:])
		valueAt, inlineLen = 12, 8
	} else {
		e.Count = uint64(f.Order.Uint32(raw[4:]))
	}
	size := TypeSize(e.Type)
	if size == 0 {
		// Readers skip unknown types (TIFF 6.0, section 2); so does this
		// one, and any use of the tag fails on its type.
		return Entry{Tag: e.Tag, Type: e.Type, Count: e.Count, Offset: pos + valueAt, Inline: true}, nil
	}
	hi, total := bits.Mul64(e.Count, uint64(size))
	if hi != 0 || total > uint64(f.size) {
		return Entry{}, malformed("IFD %d: tag %d claims %d values of %d bytes, more than the %d-byte file holds", d.Index, e.Tag, e.Count, size, f.size)
	}
	if total <= inlineLen {
		e.Offset, e.Inline = pos+valueAt, true
		return e, nil
	}
	var off uint64
	if f.BigTIFF {
		off = f.Order.Uint64(raw[valueAt:])
	} else {
		off = uint64(f.Order.Uint32(raw[valueAt:]))
	}
	if off > uint64(f.size)-total {
		return Entry{}, malformed("IFD %d: the %d bytes of tag %d at offset %d run past the end of the %d-byte file", d.Index, total, e.Tag, off, f.size)
	}
	e.Offset = int64(off)
	return e, nil
}

// valueLen is the byte length of e's value (Open checked it fits the file).
func (e Entry) valueLen() int64 { return int64(e.Count) * int64(TypeSize(e.Type)) }

// raw reads values [first, first+n) of e.
func (f *File) raw(e Entry, first, n uint64) ([]byte, error) {
	size := uint64(TypeSize(e.Type))
	if size == 0 {
		return nil, malformed("tag %d has unknown field type %d", e.Tag, e.Type)
	}
	if first > e.Count || n > e.Count-first {
		return nil, malformed("tag %d has %d values; values %d..%d do not exist", e.Tag, e.Count, first, first+n)
	}
	if int64(n*size) > f.limits.MaxValueBytes {
		return nil, malformed("tag %d: %d values of %d bytes exceed the %d-byte limit of one read", e.Tag, n, size, f.limits.MaxValueBytes)
	}
	buf := make([]byte, n*size)
	if err := readFull(f.src, buf, e.Offset+int64(first*size)); err != nil {
		return nil, fmt.Errorf("tag %d: %w", e.Tag, err)
	}
	return buf, nil
}

func isUnsigned(t uint16) bool {
	switch t {
	case TypeByte, TypeShort, TypeLong, TypeLong8, TypeIFD, TypeIFD8:
		return true
	}
	return false
}

// Uints reads values [first, first+n) of an unsigned integer tag (BYTE,
// SHORT, LONG, LONG8, IFD, IFD8).
func (f *File) Uints(e Entry, first, n uint64) ([]uint64, error) {
	buf, err := f.raw(e, first, n)
	if err != nil {
		return nil, err
	}
	out := make([]uint64, n)
	for i := range out {
		switch e.Type {
		case TypeByte:
			out[i] = uint64(buf[i])
		case TypeShort:
			out[i] = uint64(f.Order.Uint16(buf[2*i:]))
		case TypeLong, TypeIFD:
			out[i] = uint64(f.Order.Uint32(buf[4*i:]))
		case TypeLong8, TypeIFD8:
			out[i] = f.Order.Uint64(buf[8*i:])
		default:
			return nil, malformed("tag %d has field type %d, not an unsigned integer type", e.Tag, e.Type)
		}
	}
	return out, nil
}

// Floats reads every value of a numeric tag as float64.
func (f *File) Floats(e Entry) ([]float64, error) {
	buf, err := f.raw(e, 0, e.Count)
	if err != nil {
		return nil, err
	}
	out := make([]float64, e.Count)
	for i := range out {
		switch e.Type {
		case TypeDouble:
			out[i] = math.Float64frombits(f.Order.Uint64(buf[8*i:]))
		case TypeFloat:
			out[i] = float64(math.Float32frombits(f.Order.Uint32(buf[4*i:])))
		case TypeRational:
			out[i] = float64(f.Order.Uint32(buf[8*i:])) / float64(f.Order.Uint32(buf[8*i+4:]))
		case TypeShort:
			out[i] = float64(f.Order.Uint16(buf[2*i:]))
		case TypeLong:
			out[i] = float64(f.Order.Uint32(buf[4*i:]))
		default:
			return nil, malformed("tag %d has field type %d, not a numeric type", e.Tag, e.Type)
		}
	}
	return out, nil
}

// ASCII reads an ASCII tag, without its trailing NULs.
func (f *File) ASCII(e Entry) (string, error) {
	if e.Type != TypeASCII {
		return "", malformed("tag %d has field type %d, not ASCII", e.Tag, e.Type)
	}
	buf, err := f.raw(e, 0, e.Count)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(buf), "\x00"), nil
}

// Uint reads a tag that holds one unsigned integer, or def when the IFD has
// no such tag.
func (f *File) Uint(d *IFD, tag uint16, def uint64) (uint64, error) {
	e, ok := d.Entry(tag)
	if !ok {
		return def, nil
	}
	if e.Count == 0 {
		return 0, malformed("IFD %d: tag %d has no value", d.Index, tag)
	}
	v, err := f.Uints(e, 0, 1)
	if err != nil {
		return 0, fmt.Errorf("IFD %d: %w", d.Index, err)
	}
	return v[0], nil
}
