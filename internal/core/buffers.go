package core

// buffers is a bounded free list of byte buffers. Unlike a sync.Pool, which
// drops its contents at every garbage collection, it keeps them: a reused
// buffer's pages stay mapped, where a fresh one costs a page fault per 4 KiB
// on first touch (a measurable share of a read's CPU time).
type buffers struct {
	free chan []byte
	grow int // fresh buffers are rounded up to a multiple of this
}

func newBuffers(keep, grow int) *buffers {
	return &buffers{free: make(chan []byte, keep), grow: grow}
}

// get returns a buffer of length n.
func (b *buffers) get(n int) []byte {
	select {
	case buf := <-b.free:
		if cap(buf) >= n {
			return buf[:n]
		}
	default:
	}
	return make([]byte, n, (n+b.grow-1)/b.grow*b.grow)
}

// put hands buf back; it is dropped when the list is full.
func (b *buffers) put(buf []byte) {
	select {
	case b.free <- buf:
	default:
	}
}
