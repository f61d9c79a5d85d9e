package tiff

/*
#cgo pkg-config: gdal
#cgo CFLAGS: -O3
#include <stdlib.h>
#include "codec.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/cloudio-dem/cloudio/internal/gdalc"
)

// Compression levels GTiff uses when none is given (ZLEVEL, ZSTD_LEVEL).
const (
	DefaultDeflateLevel = 6
	DefaultZSTDLevel    = 9
)

// libdeflateLevel is the libdeflate level libtiff (4.5) compresses with
// for a GTiff DEFLATE level ("to get results as good as zlib", one more
// for 6 to 9), so that blocks come out byte for byte as GDAL's.
func libdeflateLevel(level int) int {
	if level >= 6 && level <= 9 {
		return level + 1
	}
	return level
}

// blockCodec encodes the blocks of one layout (block size, samples,
// predictor, compression) with GDAL's compressors. It is safe for
// concurrent use; every call brings its own buffers.
type blockCodec struct {
	enc     C.cloudioEncoding
	options **C.char // C memory: the LEVEL option, NULL-terminated
	rawLen  int
}

// compressorIDs are the CPLCompressor ids of the compressions the encoder
// implements.
var compressorIDs = map[int]string{CompressionDeflate: "zlib", CompressionZSTD: "zstd"}

// newBlockCodec prepares blocks of rows x rowLen bytes of samples-per-pixel
// samples of sampleBytes each.
func newBlockCodec(compression, level, predictor, sampleBytes, samples, rows, rowLen int) (*blockCodec, error) {
	c := &blockCodec{rawLen: rows * rowLen}
	c.enc.predictor = C.int(predictor)
	c.enc.rows, c.enc.row_len = C.size_t(rows), C.size_t(rowLen)
	c.enc.sample_bytes, c.enc.samples = C.int(sampleBytes), C.int(samples)
	if compression == CompressionNone {
		return c, nil
	}
	id, ok := compressorIDs[compression]
	if !ok {
		return nil, fmt.Errorf("compression %d is not implemented by the encoder", compression)
	}
	cid := C.CString(id)
	defer C.free(unsafe.Pointer(cid))
	if c.enc.compressor = C.cloudioCompressor(cid); c.enc.compressor == nil {
		return nil, fmt.Errorf("this GDAL build has no %q compressor", id)
	}
	if compression == CompressionDeflate {
		level = libdeflateLevel(level)
	}
	c.options = (**C.char)(C.calloc(2, C.size_t(unsafe.Sizeof((*C.char)(nil)))))
	*c.options = C.CString(fmt.Sprintf("LEVEL=%d", level))
	c.enc.options = c.options
	return c, nil
}

// bound is the largest encoded block: both compressors expand
// incompressible data by well under an eighth.
func (c *blockCodec) bound() int { return c.rawLen + c.rawLen/8 + 1024 }

// encode writes the encoding of raw (rawLen bytes, left unchanged) into
// out (at least bound() bytes) and returns its length; scratch holds the
// predicted block.
func (c *blockCodec) encode(raw, scratch, out []byte) (int, error) {
	if len(raw) != c.rawLen || len(scratch) < c.rawLen || len(out) < c.bound() {
		return 0, fmt.Errorf("block buffers of %d, %d and %d bytes for a %d-byte block", len(raw), len(scratch), len(out), c.rawLen)
	}
	errs := gdalc.NewErrors()
	defer errs.Free()
	n := C.cloudioEncodeBlock(&c.enc, unsafe.Pointer(&raw[0]), unsafe.Pointer(&scratch[0]), unsafe.Pointer(&out[0]),
		C.size_t(len(out)), (*C.cloudioErrors)(errs.C()))
	if errs.Failed() {
		return 0, errors.New(errs.Report().Said())
	}
	return int(n), nil
}

// close frees the C side; the codec is unusable afterwards.
func (c *blockCodec) close() {
	if c.options != nil {
		C.free(unsafe.Pointer(*c.options))
		C.free(unsafe.Pointer(c.options))
		c.options = nil
	}
}
