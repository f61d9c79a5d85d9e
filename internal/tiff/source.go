package tiff

import (
	"fmt"
	"io"
)

// Source is random access to the bytes of one file. ReadAt follows
// io.ReaderAt; Size is the file's length, which bounds every offset the
// file claims.
type Source interface {
	io.ReaderAt
	Size() int64
}

// Bytes is a file held in memory.
type Bytes []byte

// ReadAt copies the bytes at off into p.
func (b Bytes) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off > int64(len(b)) {
		return 0, fmt.Errorf("offset %d is outside the %d-byte file", off, len(b))
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Size is len(b).
func (b Bytes) Size() int64 { return int64(len(b)) }

// readFull reads exactly len(p) bytes at off, which the caller has checked
// against the source's size.
func readFull(src Source, p []byte, off int64) error {
	n, err := src.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("cannot read %d bytes at offset %d: %w", len(p), off, err)
}
