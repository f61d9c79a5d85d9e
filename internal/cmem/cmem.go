// Package cmem holds byte buffers in C memory for the code that decodes
// into them from C. Go memory would do as well, but valgrind (make test-c)
// loses track of Go heap memory lying between goroutine stacks and reports C
// accesses to it.
package cmem

/*
#include <stdlib.h>
*/
import "C"

import "unsafe"

// Buffers is a bounded free list of byte buffers. Unlike a sync.Pool, which
// drops its contents at every garbage collection, the list keeps its
// buffers: a reused buffer's pages stay mapped, where a fresh one costs a
// page fault per 4 KiB on first touch (a measurable share of a read's CPU
// time).
type Buffers struct {
	free chan []byte
	grow int // fresh buffers are rounded up to a multiple of this
}

// NewBuffers keeps up to keep buffers, allocating fresh ones rounded up to a
// multiple of grow bytes.
func NewBuffers(keep, grow int) *Buffers {
	return &Buffers{free: make(chan []byte, keep), grow: max(grow, 1)}
}

// Get returns a buffer of length n; it goes back through Put.
func (b *Buffers) Get(n int) []byte {
	select {
	case buf := <-b.free:
		if cap(buf) >= n {
			return buf[:n]
		}
		Free(buf)
	default:
	}
	return Alloc(n, (n+b.grow-1)/b.grow*b.grow)
}

// Put hands buf back; it is freed when the list is full.
func (b *Buffers) Put(buf []byte) {
	select {
	case b.free <- buf:
	default:
		Free(buf)
	}
}

// Close frees the buffers on the list; those handed out must be back.
func (b *Buffers) Close() {
	for {
		select {
		case buf := <-b.free:
			Free(buf)
		default:
			return
		}
	}
}

// Alloc returns n bytes of a capacity-byte C allocation (not zeroed). It
// panics when C has no memory left: every goroutine of the library turns
// that into the operation's error.
func Alloc(n, capacity int) []byte {
	capacity = max(capacity, n, 1)
	p := C.malloc(C.size_t(capacity))
	if p == nil {
		panic("cloudio: out of memory")
	}
	return unsafe.Slice((*byte)(p), capacity)[:n]
}

// Free releases a buffer from Alloc.
func Free(buf []byte) { C.free(unsafe.Pointer(unsafe.SliceData(buf))) }
