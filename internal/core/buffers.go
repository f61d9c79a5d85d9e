package core

/*
#include <stdlib.h>
*/
import "C"

import "unsafe"

// buffers is a bounded free list of byte buffers in C memory. C code decodes
// into them and reads from them: Go memory would do as well, but valgrind
// (make test-c) loses track of Go heap memory lying between goroutine stacks
// and reports C accesses to it. Unlike a sync.Pool, which drops its contents
// at every garbage collection, the list keeps its buffers: a reused buffer's
// pages stay mapped, where a fresh one costs a page fault per 4 KiB on first
// touch (a measurable share of a read's CPU time).
type buffers struct {
	free chan []byte
	grow int // fresh buffers are rounded up to a multiple of this
}

func newBuffers(keep, grow int) *buffers {
	return &buffers{free: make(chan []byte, keep), grow: grow}
}

// get returns a buffer of length n; it goes back through put.
func (b *buffers) get(n int) []byte {
	select {
	case buf := <-b.free:
		if cap(buf) >= n {
			return buf[:n]
		}
		freeC(buf)
	default:
	}
	return allocC(n, (n+b.grow-1)/b.grow*b.grow)
}

// put hands buf back; it is freed when the list is full.
func (b *buffers) put(buf []byte) {
	select {
	case b.free <- buf:
	default:
		freeC(buf)
	}
}

// close frees the buffers on the list; those handed out must be back.
func (b *buffers) close() {
	for {
		select {
		case buf := <-b.free:
			freeC(buf)
		default:
			return
		}
	}
}

// allocC returns n bytes of a capacity-byte C allocation (not zeroed).
func allocC(n, capacity int) []byte {
	capacity = max(capacity, 1)
	p := C.malloc(C.size_t(capacity))
	if p == nil {
		panic("cloudio: out of memory")
	}
	return unsafe.Slice((*byte)(p), capacity)[:n]
}

func freeC(buf []byte) { C.free(unsafe.Pointer(unsafe.SliceData(buf))) }
