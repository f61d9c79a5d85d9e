package tiff

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/cloudio-dem/cloudio/internal/cmem"
)

// layout describes a crafted image.
type layout struct {
	width, height, blockW, blockH  int
	spp, bits, format              int
	compression, predictor, planar int
	tiled                          bool
}

func (l layout) size() int { return l.bits / 8 }

// blocksAcross, blocksDown and planes of the block grid.
func (l layout) grid() (across, down, planes int) {
	planes = 1
	if l.planar == PlanarSeparate {
		planes = l.spp
	}
	return (l.width + l.blockW - 1) / l.blockW, (l.height + l.blockH - 1) / l.blockH, planes
}

// cellsOf makes the image's samples: plane-major (plane, row, col, sample
// of the pixel), as random bytes; floating-point samples stay finite.
func (l layout) cellsOf(rng *rand.Rand) []byte {
	out := make([]byte, l.width*l.height*l.spp*l.size())
	rng.Read(out)
	if l.format == SampleFloat && l.size() >= 4 {
		for i := 0; i < len(out); i += l.size() {
			if l.size() == 4 {
				binary.LittleEndian.PutUint32(out[i:], math.Float32bits(float32(rng.NormFloat64()*1000)))
			} else {
				binary.LittleEndian.PutUint64(out[i:], math.Float64bits(rng.NormFloat64()*1000))
			}
		}
	}
	return out
}

// sample is the byte offset of sample s of cell (row, col) in cellsOf.
func (l layout) sample(row, col, s int) int {
	return ((row*l.width+col)*l.spp + s) * l.size()
}

// block cuts block (bx, by) of plane out of the cells (zeros beyond the
// image) and encodes it with the layout's predictor and compression.
func (l layout) block(cells []byte, bx, by, plane int) []byte {
	spp := l.spp
	if l.planar == PlanarSeparate {
		spp = 1
	}
	rows := l.blockH
	if !l.tiled {
		rows = min(l.blockH, l.height-by*l.blockH) // a short last strip
	}
	sz := l.size()
	rowLen := l.blockW * spp * sz
	out := make([]byte, rows*rowLen)
	for r := 0; r < rows; r++ {
		for c := 0; c < l.blockW; c++ {
			y, x := by*l.blockH+r, bx*l.blockW+c
			if y >= l.height || x >= l.width {
				continue
			}
			for s := 0; s < spp; s++ {
				src := l.sample(y, x, s+plane)
				copy(out[r*rowLen+(c*spp+s)*sz:], cells[src:src+sz])
			}
		}
		predict(out[r*rowLen:(r+1)*rowLen], l.predictor, sz, spp)
	}
	if l.compression == CompressionNone {
		return out
	}
	var z bytes.Buffer
	w := zlib.NewWriter(&z)
	w.Write(out)
	w.Close()
	return z.Bytes()
}

// predict applies a TIFF predictor to one row, as an encoder does.
func predict(row []byte, predictor, size, spp int) {
	switch predictor {
	case PredictorHorizontal:
		n := len(row) / size
		for i := n - 1; i >= spp; i-- {
			a, b := row[i*size:], row[(i-spp)*size:]
			switch size {
			case 1:
				a[0] -= b[0]
			case 2:
				binary.LittleEndian.PutUint16(a, binary.LittleEndian.Uint16(a)-binary.LittleEndian.Uint16(b))
			case 4:
				binary.LittleEndian.PutUint32(a, binary.LittleEndian.Uint32(a)-binary.LittleEndian.Uint32(b))
			case 8:
				binary.LittleEndian.PutUint64(a, binary.LittleEndian.Uint64(a)-binary.LittleEndian.Uint64(b))
			}
		}
	case PredictorFloatingPoint:
		wc := len(row) / size
		planes := make([]byte, len(row))
		for k := 0; k < wc; k++ {
			for p := 0; p < size; p++ {
				planes[p*wc+k] = row[k*size+size-1-p] // most significant byte first
			}
		}
		for i := len(planes) - 1; i >= spp; i-- {
			planes[i] -= planes[i-spp]
		}
		copy(row, planes)
	}
}

// craftImage lays out a little-endian TIFF of the layout's blocks, each
// from encodeBlock (nil: a sparse block).
func craftImage(big bool, l layout, encodeBlock func(bx, by, plane int) []byte) []byte {
	across, down, planes := l.grid()
	var blocks [][]byte
	for p := 0; p < planes; p++ {
		for by := 0; by < down; by++ {
			for bx := 0; bx < across; bx++ {
				blocks = append(blocks, encodeBlock(bx, by, p))
			}
		}
	}
	offsetField := long
	if big {
		offsetField = long8
	}
	fieldsAt := func(offsets []uint64) []field {
		counts := make([]uint64, len(blocks))
		for i, b := range blocks {
			counts[i] = uint64(len(b))
		}
		bits := make([]uint64, l.spp)
		formats := make([]uint64, l.spp)
		for i := range bits {
			bits[i], formats[i] = uint64(l.bits), uint64(l.format)
		}
		fs := []field{long(TagImageWidth, uint64(l.width)), long(TagImageLength, uint64(l.height)),
			short(TagBitsPerSample, bits...), short(TagCompression, uint64(l.compression)),
			short(TagSamplesPerPixel, uint64(l.spp)), short(TagPlanarConfig, uint64(l.planar)),
			short(TagPredictor, uint64(l.predictor)), short(TagSampleFormat, formats...)}
		if l.tiled {
			return append(fs, long(TagTileWidth, uint64(l.blockW)), long(TagTileLength, uint64(l.blockH)),
				offsetField(TagTileOffsets, offsets...), offsetField(TagTileByteCounts, counts...))
		}
		return append(fs, long(TagRowsPerStrip, uint64(l.blockH)),
			offsetField(TagStripOffsets, offsets...), offsetField(TagStripByteCounts, counts...))
	}
	// The IFD's length does not depend on the offsets' values: lay it out
	// once to learn where the blocks start, then again with their offsets.
	offsets := make([]uint64, len(blocks))
	at := uint64(len(craft(big, binary.LittleEndian, fieldsAt(offsets))))
	for i, b := range blocks {
		if len(b) > 0 {
			offsets[i] = at
			at += uint64(len(b))
		}
	}
	out := craft(big, binary.LittleEndian, fieldsAt(offsets))
	for _, b := range blocks {
		out = append(out, b...)
	}
	return out
}

// expected cuts window w of the samples out of the cells, plane by plane;
// sparse blocks read as fill.
func (l layout) expected(cells []byte, w Window, samples []int, sparse func(bx, by, plane int) bool, fill []byte) []byte {
	sz := l.size()
	var out []byte
	for _, s := range samples {
		for r := w.RowOff; r < w.RowOff+w.Rows; r++ {
			for c := w.ColOff; c < w.ColOff+w.Cols; c++ {
				plane := 0
				if l.planar == PlanarSeparate {
					plane = s
				}
				if sparse(int(c)/l.blockW, int(r)/l.blockH, plane) {
					out = append(out, fill...)
					continue
				}
				i := l.sample(int(r), int(c), s)
				out = append(out, cells[i:i+sz]...)
			}
		}
	}
	return out
}

// readWindow reads w through a Reader over file, into C memory with guard
// bytes on both sides that must survive the read.
func readWindow(t testing.TB, r *Reader, w Window, samples []int) ([]byte, error) {
	const guard = 64
	n := len(samples) * int(w.Rows*w.Cols) * r.Image().BitsPerSample / 8
	mem := cmem.Alloc(n+2*guard, n+2*guard)
	defer cmem.Free(mem)
	for i := range mem {
		mem[i] = 0xA5
	}
	err := r.Read(w, samples, mem[guard:guard+n])
	for i, b := range mem {
		if (i < guard || i >= guard+n) && b != 0xA5 {
			t.Fatalf("window %+v: byte %d outside the buffer was overwritten", w, i-guard)
		}
	}
	return append([]byte(nil), mem[guard:guard+n]...), err
}

func openReader(t testing.TB, file []byte, fill []byte, inFlight int) (*Reader, error) {
	f, err := Open(Bytes(file), DefaultLimits)
	if err != nil {
		return nil, err
	}
	im, err := f.Image(0)
	if err != nil {
		return nil, err
	}
	dec, err := NewDecoder(im, fill)
	if err != nil {
		return nil, err
	}
	r := NewReader(dec, Bytes(file), inFlight)
	t.Cleanup(func() { r.Close(); dec.Close() })
	return r, nil
}

// The decoder reads every layout it takes exactly as the cells were
// encoded, whatever the window: DEFLATE or none, every predictor, tiles or
// strips, band or pixel interleaved, sparse blocks as the fill value.
func TestDecoderReadsCraftedImages(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	n := 0
	for _, bits := range []int{8, 16, 32, 64} {
		for _, format := range []int{SampleUint, SampleInt, SampleFloat} {
			if format == SampleFloat && bits < 32 {
				continue
			}
			for _, compression := range []int{CompressionNone, CompressionDeflate} {
				for _, predictor := range []int{PredictorNone, PredictorHorizontal, PredictorFloatingPoint} {
					if (predictor == PredictorFloatingPoint && format != SampleFloat) || (compression == CompressionNone && predictor != PredictorNone) {
						continue
					}
					for _, planar := range []int{PlanarContig, PlanarSeparate} {
						for _, tiled := range []bool{true, false} {
							n++
							l := layout{width: 37 + rng.Intn(40), height: 29 + rng.Intn(40), spp: 1 + rng.Intn(3), bits: bits,
								format: format, compression: compression, predictor: predictor, planar: planar, tiled: tiled}
							l.blockW, l.blockH = 16*(1+rng.Intn(2)), 16*(1+rng.Intn(2))
							if !tiled {
								l.blockW, l.blockH = l.width, 1+rng.Intn(9)
							}
							checkCrafted(t, rng, l)
						}
					}
				}
			}
		}
	}
	t.Logf("%d layouts", n)
}

func checkCrafted(t *testing.T, rng *rand.Rand, l layout) {
	t.Helper()
	cells := l.cellsOf(rng)
	sparse := func(bx, by, plane int) bool { return (bx+2*by+plane)%5 == 3 }
	file := craftImage(rng.Intn(2) == 0, l, func(bx, by, plane int) []byte {
		if sparse(bx, by, plane) {
			return nil
		}
		return l.block(cells, bx, by, plane)
	})
	fill := make([]byte, l.size())
	rng.Read(fill)
	r, err := openReader(t, file, fill, 1+rng.Intn(4))
	if err != nil {
		t.Fatalf("%+v: %v", l, err)
	}
	for k := 0; k < 6; k++ {
		w := Window{Rows: int64(l.height), Cols: int64(l.width)}
		if k > 0 {
			w.RowOff, w.ColOff = int64(rng.Intn(l.height)), int64(rng.Intn(l.width))
			w.Rows, w.Cols = 1+int64(rng.Intn(l.height-int(w.RowOff))), 1+int64(rng.Intn(l.width-int(w.ColOff)))
		}
		samples := []int{rng.Intn(l.spp)}
		if k%2 == 0 {
			samples = rng.Perm(l.spp)
		}
		got, err := readWindow(t, r, w, samples)
		if err != nil {
			t.Fatalf("%+v window %+v: %v", l, w, err)
		}
		if want := l.expected(cells, w, samples, sparse, fill); !bytes.Equal(got, want) {
			t.Fatalf("%+v window %+v samples %v: decoded cells differ", l, w, samples)
		}
	}
}

// Damage is an error that names the block, and so are byte counts the
// block's layout cannot hold.
func TestDecoderDamageIsAnError(t *testing.T) {
	l := layout{width: 64, height: 64, blockW: 32, blockH: 32, spp: 1, bits: 32, format: SampleFloat,
		compression: CompressionDeflate, predictor: PredictorFloatingPoint, planar: PlanarContig, tiled: true}
	cells := l.cellsOf(rand.New(rand.NewSource(1)))
	for _, c := range []struct {
		name   string
		damage func(bx, by int, b []byte) []byte
		want   string
	}{
		{"flipped bytes", func(bx, by int, b []byte) []byte {
			if bx == 1 && by == 0 {
				for i := 2; i < len(b)-4; i++ {
					b[i] ^= 0x5A
				}
			}
			return b
		}, "tile (1, 0): corrupt DEFLATE data"},
		{"truncated", func(bx, by int, b []byte) []byte {
			if bx == 0 && by == 1 {
				return b[:len(b)/2]
			}
			return b
		}, "tile (0, 1): corrupt DEFLATE data"},
	} {
		file := craftImage(true, l, func(bx, by, plane int) []byte { return c.damage(bx, by, l.block(cells, bx, by, plane)) })
		r, err := openReader(t, file, make([]byte, 4), 2)
		if err != nil {
			t.Fatal(err)
		}
		_, err = readWindow(t, r, Window{Rows: 64, Cols: 64}, []int{0})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
	}
}

// panicking is a Source whose reads of blocks panic.
type panicking struct{ Bytes }

func (p panicking) ReadAt(b []byte, off int64) (int, error) {
	if off > 200 {
		panic("injected")
	}
	return p.Bytes.ReadAt(b, off)
}

// A panic on one of the reader's goroutines is the read's error, and the
// reader goes on working.
func TestReaderRecoversPanics(t *testing.T) {
	l := layout{width: 40, height: 40, blockW: 16, blockH: 16, spp: 1, bits: 8, format: SampleUint,
		compression: CompressionNone, predictor: PredictorNone, planar: PlanarContig, tiled: true}
	cells := l.cellsOf(rand.New(rand.NewSource(2)))
	file := craftImage(false, l, func(bx, by, plane int) []byte { return l.block(cells, bx, by, plane) })
	f, err := Open(Bytes(file), DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	im, _ := f.Image(0)
	dec, err := NewDecoder(im, []byte{0})
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	r := NewReader(dec, panicking{Bytes(file)}, 2)
	defer r.Close()
	for i := 0; i < 3; i++ {
		_, err := readWindow(t, r, Window{Rows: 40, Cols: 40}, []int{0})
		var p *Panic
		if !errors.As(err, &p) || p.Value != "injected" {
			t.Fatalf("got %v, want the injected panic", err)
		}
	}
}

// decodeSeeds are files the decoder fuzz targets start from: every layout
// of TestDecoderReadsCraftedImages's kind, and the BigTIFFs whose byte
// counts claim 2^40, 2^62, 2^63+5 and 2^64-1 bytes (issue 11).
func decodeSeeds() [][]byte {
	rng := rand.New(rand.NewSource(3))
	var seeds [][]byte
	for _, l := range []layout{
		{width: 40, height: 33, blockW: 16, blockH: 16, spp: 1, bits: 32, format: SampleFloat, compression: CompressionDeflate, predictor: PredictorFloatingPoint, planar: PlanarContig, tiled: true},
		{width: 40, height: 33, blockW: 16, blockH: 16, spp: 3, bits: 16, format: SampleInt, compression: CompressionDeflate, predictor: PredictorHorizontal, planar: PlanarContig, tiled: true},
		{width: 31, height: 20, blockW: 31, blockH: 3, spp: 2, bits: 64, format: SampleFloat, compression: CompressionDeflate, predictor: PredictorFloatingPoint, planar: PlanarSeparate},
		{width: 31, height: 20, blockW: 31, blockH: 7, spp: 1, bits: 8, format: SampleUint, compression: CompressionNone, predictor: PredictorNone, planar: PlanarContig},
	} {
		cells := l.cellsOf(rng)
		seeds = append(seeds, craftImage(l.bits == 64, l, func(bx, by, plane int) []byte {
			if (bx+by)%4 == 3 {
				return nil
			}
			return l.block(cells, bx, by, plane)
		}))
	}
	for _, count := range []uint64{1 << 40, 1 << 62, 1<<63 + 5, math.MaxUint64} {
		seeds = append(seeds, craft(true, binary.LittleEndian, tiled(long8, []uint64{16, 16, 16, 16}, []uint64{1, 1, 1, count})))
	}
	return seeds
}

// FuzzDecode feeds arbitrary files through the parser, the decoder and the
// reader: any window of any image the decoder takes reads or fails, never
// panics and never writes outside its buffer.
func FuzzDecode(f *testing.F) {
	for _, s := range decodeSeeds() {
		f.Add(s, uint16(0), uint16(0), uint16(64), uint16(64))
	}
	f.Fuzz(func(t *testing.T, data []byte, row, col, rows, cols uint16) {
		file, err := Open(Bytes(data), Limits{MaxIFDs: 4, MaxEntries: 64, MaxValueBytes: 1 << 20})
		if err != nil {
			return
		}
		for i := range file.IFDs {
			im, err := file.Image(i)
			if err != nil || im.BlockLen() > 1<<20 || im.SamplesPerPixel > 8 {
				continue
			}
			dec, err := NewDecoder(im, make([]byte, im.BitsPerSample/8))
			if err != nil {
				continue
			}
			r := NewReader(dec, Bytes(data), 2)
			w := Window{RowOff: int64(row) % im.Height, ColOff: int64(col) % im.Width}
			w.Rows = min(1+int64(rows)%128, im.Height-w.RowOff)
			w.Cols = min(1+int64(cols)%128, im.Width-w.ColOff)
			samples := make([]int, im.SamplesPerPixel)
			for s := range samples {
				samples[s] = s
			}
			readWindow(t, r, w, samples)
			r.Close()
			dec.Close()
		}
	})
}

// FuzzDecodeTiles crafts well-formed images of any layout around random
// block contents (compressed as DEFLATE, or taken as they are by the
// codec): decoding reads or fails, never panics, never writes outside its
// buffer, and a valid DEFLATE stream of the right size decodes to what was
// encoded.
func FuzzDecodeTiles(f *testing.F) {
	f.Add([]byte("seed"), uint8(40), uint8(33), uint8(16), uint8(16), uint8(1), uint8(2), uint8(3), uint8(8), uint8(3), true, true)
	f.Add([]byte{0, 1, 2, 3}, uint8(7), uint8(200), uint8(7), uint8(5), uint8(3), uint8(0), uint8(2), uint8(1), uint8(2), false, false)
	f.Fuzz(func(t *testing.T, payload []byte, width, height, blockW, blockH, spp, bitsCode, format, compression, predictor uint8, separate, tiled bool) {
		l := layout{width: 1 + int(width), height: 1 + int(height), blockW: 1 + int(blockW), blockH: 1 + int(blockH),
			spp: 1 + int(spp)%4, bits: 8 << (bitsCode % 4), format: 1 + int(format)%3, compression: int(compression),
			predictor: int(predictor) % 4, planar: PlanarContig, tiled: tiled}
		if separate {
			l.planar = PlanarSeparate
		}
		if !tiled {
			l.blockW = l.width
		}
		valid := l.compression == CompressionDeflate || l.compression == CompressionNone
		rng := rand.New(rand.NewSource(int64(len(payload))))
		cells := l.cellsOf(rng)
		for i := range cells {
			if len(payload) > 0 {
				cells[i] ^= payload[i%len(payload)]
			}
		}
		file := craftImage(len(payload)%2 == 0, l, func(bx, by, plane int) []byte {
			if l.compression == CompressionDeflate || l.compression == CompressionNone {
				return l.block(cells, bx, by, plane)
			}
			return payload // another codec: the payload as its stream
		})
		r, err := openReader(t, file, make([]byte, l.size()), 2)
		if err != nil {
			return
		}
		w := Window{Rows: int64(l.height), Cols: int64(l.width)}
		samples := []int{int(payload0(payload)) % l.spp}
		got, err := readWindow(t, r, w, samples)
		if err == nil && valid && !bytes.Equal(got, l.expected(cells, w, samples, func(int, int, int) bool { return false }, nil)) {
			t.Fatalf("%+v: decoded cells differ", l)
		}
	})
}

func payload0(p []byte) byte {
	if len(p) == 0 {
		return 0
	}
	return p[0]
}
