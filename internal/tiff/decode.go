package tiff

/*
#cgo pkg-config: gdal
#cgo CFLAGS: -O3 -I${SRCDIR}/../gdalc
#include <stdlib.h>
#include "decode.h"
*/
import "C"

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"github.com/cloudio-dem/cloudio/internal/cmem"
	// The error context the kernels fill is gdalc.h's: imported so that
	// the build sees it change.
	_ "github.com/cloudio-dem/cloudio/internal/gdalc"
)

// MaxDirectBlockBytes bounds the decoded size of a block the decoder takes
// on: every decoding goroutine holds a block's worth of scratch, so larger
// blocks are left to GDAL, which reads them by parts.
const MaxDirectBlockBytes = int64(64) << 20

// ErrUnsupported marks a layout the decoder does not handle: the caller
// reads such a file another way.
var ErrUnsupported = errors.New("layout not handled by the direct decoder")

// Decoder decodes the blocks of one image: the codecs and predictors GDAL
// and cloudio write (DEFLATE, ZSTD or none; predictor 1, 2 or 3), tiled or
// striped, band or pixel interleaved, little-endian samples of 8 to 64 bits.
// Its layout lives in C memory, read-only, so any number of goroutines
// decode with it at once.
type Decoder struct {
	im     *Image
	layout *C.cloudioBlocks
}

// NewDecoder checks that im is a layout the decoder handles (an error
// wrapping ErrUnsupported when it is not) and sets it up. fill is one
// sample of what sparse blocks hold (the nodata value, or zeros), encoded
// in the image's sample type.
func NewDecoder(im *Image, fill []byte) (*Decoder, error) {
	decline := func(format string, args ...any) (*Decoder, error) {
		return nil, fmt.Errorf("%w: "+format, append([]any{ErrUnsupported}, args...)...)
	}
	var one uint16 = 1
	switch {
	case *(*byte)(unsafe.Pointer(&one)) != 1:
		return decline("big-endian host")
	case im.file.Order != binary.LittleEndian:
		return decline("big-endian file")
	case im.BitsPerSample != 8 && im.BitsPerSample != 16 && im.BitsPerSample != 32 && im.BitsPerSample != 64:
		return decline("%d-bit samples", im.BitsPerSample)
	case im.SampleFormat != SampleUint && im.SampleFormat != SampleInt && im.SampleFormat != SampleFloat:
		return decline("sample format %d", im.SampleFormat)
	case im.SampleFormat == SampleFloat && im.BitsPerSample < 32:
		return decline("%d-bit floating point", im.BitsPerSample)
	case im.Photometric == PhotometricYCbCr:
		return decline("YCbCr samples")
	case im.BlockLen() > MaxDirectBlockBytes:
		return decline("%d-byte blocks", im.BlockLen())
	case len(fill) != im.BitsPerSample/8:
		return nil, fmt.Errorf("a fill value of %d bytes for %d-bit samples", len(fill), im.BitsPerSample)
	}
	layout := C.cloudioBlocks{height: C.int64_t(im.Height), width: C.int64_t(im.Width),
		block_rows: C.int64_t(im.BlockHeight), block_cols: C.int64_t(im.BlockWidth),
		size: C.int(im.BitsPerSample / 8), spp: 1, predictor: C.int(im.Predictor),
		block_len: C.size_t(im.BlockLen()), row_len: C.size_t(im.RowLen())}
	if im.Planar == PlanarContig {
		layout.spp = C.int(im.SamplesPerPixel)
	}
	switch im.Compression {
	case CompressionNone:
		layout.compression = C.CLOUDIO_CODEC_NONE
	case CompressionDeflate, CompressionDeflateOld:
		layout.compression = C.CLOUDIO_CODEC_DEFLATE
	case CompressionZSTD:
		if layout.zstd = C.cloudioZstd(); layout.zstd == nil {
			return decline("no ZSTD decompressor in this GDAL")
		}
		layout.compression = C.CLOUDIO_CODEC_ZSTD
	default:
		return decline("compression %d", im.Compression)
	}
	switch {
	case im.Predictor < PredictorNone || im.Predictor > PredictorFloatingPoint:
		return decline("predictor %d", im.Predictor)
	case im.Predictor != PredictorNone && im.Compression == CompressionNone:
		return decline("predictor %d without compression", im.Predictor) // libtiff ignores it; so would we not
	case im.Predictor == PredictorFloatingPoint && im.SampleFormat != SampleFloat:
		return decline("the floating-point predictor on integers")
	}
	for i, b := range fill {
		layout.fill[i] = C.uchar(b)
	}
	d := &Decoder{im: im, layout: (*C.cloudioBlocks)(C.malloc(C.size_t(unsafe.Sizeof(layout))))}
	*d.layout = layout
	return d, nil
}

// Close frees the layout; no decoding may be in progress.
func (d *Decoder) Close() {
	if d != nil {
		C.free(unsafe.Pointer(d.layout))
	}
}

// Image is the image whose blocks d decodes.
func (d *Decoder) Image() *Image { return d.im }

// MaxEncodedLen bounds the bytes one block may take in the file: its
// decoded size for an uncompressed block, and for a compressed one what
// DEFLATE or ZSTD can expand incompressible data to (a little over 1 per
// mille), with room to spare. A larger byte count is a malformed file, found
// before anything is allocated for it.
func (d *Decoder) MaxEncodedLen() uint64 {
	n := uint64(d.im.BlockLen())
	if d.im.Compression == CompressionNone {
		return n
	}
	return n + n/64 + 64<<10
}

// Window is a window of an image, in cells: rows RowOff .. RowOff+Rows-1,
// columns ColOff .. ColOff+Cols-1.
type Window struct{ RowOff, ColOff, Rows, Cols int64 }

// target is where a read's blocks go: len(samples) planes of w, band
// sequential and row-major. out is pinned while C writes it; what the C
// kernels read of the target (its windows, one per slot, and the samples)
// is C memory, as the layout is: valgrind (make test-c) tracks C memory,
// not Go's.
type target struct {
	w       Window
	samples []C.int           // 0-based; C memory
	windows []C.cloudioWindow // by slot; C memory
	out     []byte
	pin     runtime.Pinner
}

// check fails unless w lies in the image, the samples exist and out holds
// exactly the window's samples: the C kernels index by them unchecked.
func (d *Decoder) check(w Window, samples []int, out []byte) (*target, error) {
	im := d.im
	if w.Rows <= 0 || w.Cols <= 0 || w.RowOff < 0 || w.ColOff < 0 || w.Rows > im.Height-w.RowOff || w.Cols > im.Width-w.ColOff {
		return nil, fmt.Errorf("window (row_off=%d, col_off=%d, n_rows=%d, n_cols=%d) is not inside the %d x %d image",
			w.RowOff, w.ColOff, w.Rows, w.Cols, im.Height, im.Width)
	}
	if len(samples) == 0 {
		return nil, errors.New("no samples to read")
	}
	for _, s := range samples {
		if s < 0 || s >= im.SamplesPerPixel {
			return nil, fmt.Errorf("sample %d does not exist (the image has %d per pixel)", s, im.SamplesPerPixel)
		}
	}
	// Rows, Cols < 2^31 and at most 65535 samples of 8 bytes: no overflow.
	if want := int64(len(samples)) * w.Rows * w.Cols * int64(im.BitsPerSample/8); int64(len(out)) != want {
		return nil, fmt.Errorf("a buffer of %d bytes for a window of %d bytes", len(out), want)
	}
	n := len(samples)
	t := &target{w: w, out: out,
		samples: unsafe.Slice((*C.int)(C.calloc(C.size_t(n), C.size_t(unsafe.Sizeof(C.int(0))))), n),
		windows: unsafe.Slice((*C.cloudioWindow)(C.calloc(C.size_t(n), C.size_t(unsafe.Sizeof(C.cloudioWindow{})))), n)}
	t.pin.Pin(&out[0])
	for i, s := range samples {
		t.samples[i] = C.int(s)
	}
	for slot := range t.windows {
		t.windows[slot] = C.cloudioWindow{row_off: C.int64_t(w.RowOff), col_off: C.int64_t(w.ColOff),
			rows: C.int64_t(w.Rows), cols: C.int64_t(w.Cols), samples: &t.samples[0], n_samples: C.int(n),
			slot: C.int(slot), out: unsafe.Pointer(unsafe.SliceData(out))}
	}
	return t, nil
}

// done releases t's memory; no C call may use it any more.
func (t *target) done() {
	C.free(unsafe.Pointer(&t.windows[0]))
	C.free(unsafe.Pointer(&t.samples[0]))
	t.pin.Unpin()
}

// cWindow is t for block slot (the plane a band-interleaved block goes to),
// valid until done.
func (t *target) cWindow(slot int) *C.cloudioWindow { return &t.windows[slot] }

// scratch is one decoding goroutine's memory, all of it C memory which the
// kernels write: a decoded block, a row, and the error context of a call.
type scratch struct {
	block, row unsafe.Pointer
	errs       *C.cloudioErrors
}

// errsLen is the size of a scratch's error context, rounded up so that the
// block after it stays 8-byte aligned.
const errsLen = (C.sizeof_cloudioErrors + 7) &^ 7

func (d *Decoder) newScratch(bufs *cmem.Buffers) ([]byte, scratch) {
	buf := bufs.Get(int(errsLen + d.im.BlockLen() + d.im.RowLen()))
	return buf, scratch{block: unsafe.Pointer(&buf[errsLen]), row: unsafe.Pointer(&buf[errsLen+d.im.BlockLen()]),
		errs: (*C.cloudioErrors)(unsafe.Pointer(&buf[0]))}
}

// err is the damage the last kernel call found, nil for none.
func (s scratch) err() error {
	if s.errs.failed == 0 {
		return nil
	}
	return errors.New(C.GoString(&s.errs.msg[0]))
}

// decodeInto decodes block (bx, by) from data (nil for a sparse block) into
// t's slot.
func (d *Decoder) decodeInto(data []byte, bx, by int64, t *target, slot int, s scratch) error {
	C.cloudioDecodeInto(d.layout, bytesPtr(data), C.size_t(len(data)), C.int64_t(bx), C.int64_t(by), t.cWindow(slot),
		s.block, s.row, s.errs)
	return s.err()
}

// decodeBlock decodes block row by's block from data (nil for a sparse
// block) into block (BlockLen bytes); it returns the rows it holds, 0 for
// a sparse block.
func (d *Decoder) decodeBlock(data []byte, by int64, block []byte, s scratch) (int64, error) {
	rows := C.cloudioDecodeBlock(d.layout, bytesPtr(data), C.size_t(len(data)), C.int64_t(by),
		unsafe.Pointer(unsafe.SliceData(block)), s.row, s.errs)
	return int64(rows), s.err()
}

// checkBlock decodes block row by's block from data into s's block, to
// find damage: the decoded cells are not kept.
func (d *Decoder) checkBlock(data []byte, by int64, s scratch) error {
	C.cloudioCheckBlock(d.layout, bytesPtr(data), C.size_t(len(data)), C.int64_t(by), s.block, s.errs)
	return s.err()
}

// place copies the window's part of a decoded block (rows as decodeBlock
// returned) into t's slot.
func (d *Decoder) place(block []byte, rows, bx, by int64, t *target, slot int) {
	C.cloudioPlace(d.layout, bytesPtr(block), C.int64_t(rows), C.int64_t(bx), C.int64_t(by), t.cWindow(slot))
}

func bytesPtr(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(unsafe.SliceData(b))
}
