package upload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/cloudio-dem/cloudio/internal/tiff"
)

const mib = 1 << 20

// abortTimeout bounds the clean-up after a failure: it runs on a context
// of its own, since the sink's may be the one cancelled.
const abortTimeout = 2 * time.Minute

// store is what an object store does with the parts of one object. Its
// errors never hold a secret (see secrets).
type store interface {
	// uploadPart stores data, the concatenation of its slices, as part n
	// (from 1); data is only read during the call.
	uploadPart(ctx context.Context, n int, data [][]byte) error
	// complete makes the object of the parts numbered, in that order.
	complete(ctx context.Context, parts []int) error
	// put writes the object in one request, when no part was uploaded.
	put(ctx context.Context, data [][]byte) error
	// abort discards every part uploaded.
	abort(ctx context.Context) error
}

// Parts is how a sink cuts the file into parts.
type Parts struct {
	// PartSize is the size of the parts; 0 plans it (see the store's
	// configuration).
	PartSize int64
	// InFlight is how many parts upload at once; 0 means 4.
	InFlight int
}

// limits are a store's rules for parts, and how the sink uses them.
type limits struct {
	maxPart   int64
	maxParts  int
	partSize  int64 // the full parts the sink makes, at least (0: plan it)
	holdFirst int64 // the bytes at the start of each section held back until Finish
	inFlight  int   // part uploads at once
}

// streamer is the tiff.Sink both stores share. Each section is cut into
// full parts of partSize bytes, uploaded as they fill, under numbers
// reserved for the section; the bytes between them that are not a full
// part (the head, the first holdFirst and the last bytes of each section)
// are held and uploaded at Finish as one part per run, numbered where the
// run lies. With holdFirst at the store's minimum part size, every run
// that a full part follows holds a section's first bytes, and so is large
// enough to be a part.
type streamer struct {
	store  store
	name   string // the destination, for errors
	limits limits

	parent context.Context
	ctx    context.Context // cancelled by the first failure and by Abort
	cancel context.CancelFunc
	slots  chan struct{} // one per upload in flight

	uploads  sync.WaitGroup
	mu       sync.Mutex
	err      error
	free     [][]byte // full-part buffers no longer in use
	sections []section
	ended    bool
}

// section is what the sink keeps of one section of the file.
type section struct {
	base  int    // the number of the held run before its first full part; its full parts follow
	first []byte // its first holdFirst bytes
	cur   []byte // the part being filled
	parts int    // full parts uploaded
}

func newStreamer(ctx context.Context, s store, name string, l limits, p Parts) *streamer {
	l.partSize, l.inFlight = p.PartSize, p.InFlight
	if l.inFlight <= 0 {
		l.inFlight = 4
	}
	st := &streamer{store: s, name: name, limits: l, parent: ctx, slots: make(chan struct{}, l.inFlight)}
	st.ctx, st.cancel = context.WithCancel(ctx)
	return st
}

// Start plans the parts: a part size for which every section's most bytes
// fit in the store's part count.
func (st *streamer) Start(bounds []int64) error {
	l := &st.limits
	var total int64
	for _, b := range bounds {
		total += b
	}
	if l.partSize == 0 {
		l.partSize = max(8*mib, roundUp(total/int64(l.maxParts*9/10), mib))
	}
	for {
		if l.partSize > l.maxPart {
			return fmt.Errorf("%s: %d bytes do not fit in %d parts of at most %d bytes", st.name, total, l.maxParts, l.maxPart)
		}
		st.sections = make([]section, len(bounds))
		next := 1
		for i, b := range bounds {
			st.sections[i].base = next
			next += 1 + int((max(0, b-l.holdFirst)+l.partSize-1)/l.partSize)
		}
		if next <= l.maxParts { // next is the last run's number at most
			return nil
		}
		l.partSize = roundUp(l.partSize+l.partSize/4, mib)
	}
}

func roundUp(n, to int64) int64 { return (n + to - 1) / to * to }

// Write copies p into section s, uploading every part it fills.
func (st *streamer) Write(s int, p []byte) error {
	if err := st.failed(); err != nil {
		return err
	}
	sec := &st.sections[s]
	l := st.limits
	if n := int(l.holdFirst) - len(sec.first); n > 0 {
		n = min(n, len(p))
		sec.first = appendBounded(sec.first, p[:n], l.holdFirst)
		p = p[n:]
	}
	for len(p) > 0 {
		n := min(int(l.partSize)-len(sec.cur), len(p))
		sec.cur = appendBounded(sec.cur, p[:n], l.partSize)
		p = p[n:]
		if int64(len(sec.cur)) < l.partSize {
			break
		}
		sec.parts++
		// the next section's first number, or the file's last run's
		limit := st.limits.maxParts
		if s+1 < len(st.sections) {
			limit = st.sections[s+1].base
		}
		if sec.base+sec.parts >= limit {
			return st.fail(fmt.Errorf("internal error: section %d outgrows its parts", s))
		}
		if err := st.upload(sec.base+sec.parts, [][]byte{sec.cur}, true); err != nil {
			return err
		}
		sec.cur = st.buffer()
	}
	return nil
}

// appendBounded appends p to b, growing b at most to limit bytes: a small
// section takes no more memory than it has bytes.
func appendBounded(b, p []byte, limit int64) []byte {
	if need := len(b) + len(p); need > cap(b) {
		grown := make([]byte, len(b), min(limit, max(int64(need), 2*int64(cap(b)), 64<<10)))
		copy(grown, b)
		b = grown
	}
	return append(b, p...)
}

// buffer is an empty full-part buffer, reused when one is free.
func (st *streamer) buffer() []byte {
	st.mu.Lock()
	defer st.mu.Unlock()
	if n := len(st.free); n > 0 {
		b := st.free[n-1]
		st.free = st.free[:n-1]
		return b[:0]
	}
	return make([]byte, 0, st.limits.partSize)
}

// upload starts uploading part n once a slot is free. A full part's
// buffer (reuse) goes back to the free list afterwards.
func (st *streamer) upload(n int, data [][]byte, reuse bool) error {
	select {
	case st.slots <- struct{}{}:
	case <-st.ctx.Done():
		return st.fail(st.ctx.Err())
	}
	st.uploads.Add(1)
	go func() {
		defer st.uploads.Done()
		err := st.store.uploadPart(st.ctx, n, data)
		<-st.slots
		if err != nil {
			st.fail(fmt.Errorf("part %d: %w", n, err))
			return
		}
		if reuse {
			st.mu.Lock()
			st.free = append(st.free, data[0])
			st.mu.Unlock()
		}
	}()
	return nil
}

// fail records the first failure (the cancellation of the sink's context,
// when that is the cause) and stops every upload; it returns the first.
func (st *streamer) fail(err error) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.err == nil {
		if cause := st.parent.Err(); cause != nil {
			err = cause
		}
		st.err = fmt.Errorf("upload to %s: %w", st.name, err)
		st.cancel()
	}
	return st.err
}

func (st *streamer) failed() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.err
}

// Place: the object is the file, its sections back to back.
func (st *streamer) Place(head int64, sections []int64) []int64 {
	return tiff.BackToBack(head, sections)
}

// Finish uploads the held runs and completes the object, or aborts it.
func (st *streamer) Finish(head []byte) error {
	if err := st.finish(head); err != nil {
		return errors.Join(err, st.Abort())
	}
	st.end()
	return nil
}

func (st *streamer) finish(head []byte) error {
	st.uploads.Wait()
	if err := st.failed(); err != nil {
		return err
	}
	// A run is uploaded from the buffers that hold it, not copied.
	run := [][]byte{head}
	var order []int
	for i := range st.sections {
		sec := &st.sections[i]
		run = append(run, sec.first)
		if sec.parts > 0 {
			if err := st.upload(sec.base, run, false); err != nil {
				return err
			}
			for n := sec.base; n <= sec.base+sec.parts; n++ {
				order = append(order, n)
			}
			run = nil
		}
		run = append(run, sec.cur)
		*sec = section{}
	}
	if len(order) == 0 {
		if err := st.store.put(st.ctx, run); err != nil {
			return st.fail(err)
		}
		return nil
	}
	if size(run) > 0 {
		last := order[len(order)-1] + 1
		if err := st.upload(last, run, false); err != nil {
			return err
		}
		order = append(order, last)
	}
	st.uploads.Wait()
	if err := st.failed(); err != nil {
		return err
	}
	if err := st.store.complete(st.ctx, order); err != nil {
		return st.fail(err)
	}
	return nil
}

// Abort stops the uploads under way and discards the parts uploaded;
// nothing appears at the destination. Abort after Finish or Abort does
// nothing.
func (st *streamer) Abort() error {
	st.cancel()
	st.uploads.Wait()
	if !st.end() {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(st.parent), abortTimeout)
	defer cancel()
	if err := st.store.abort(ctx); err != nil {
		return fmt.Errorf("cannot abort the upload to %s: %w", st.name, err)
	}
	return nil
}

// end marks the sink finished or aborted, and frees its buffers; false
// when it already was.
func (st *streamer) end() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	was := st.ended
	st.ended, st.sections, st.free = true, nil, nil
	if st.err == nil {
		st.err = fmt.Errorf("the upload to %s is over", st.name)
	}
	st.cancel()
	return !was
}

func size(data [][]byte) int64 {
	var n int64
	for _, b := range data {
		n += int64(len(b))
	}
	return n
}

// body reads data, the concatenation of its slices, as a request's body
// that the SDKs can sign, retry and measure.
type body struct {
	data [][]byte
	off  int64
	size int64
}

func newBody(data [][]byte) *body { return &body{data: data, size: size(data)} }

func (b *body) Read(p []byte) (int, error) {
	if b.off >= b.size {
		return 0, io.EOF
	}
	n, at := 0, int64(0)
	for _, d := range b.data {
		if end := at + int64(len(d)); b.off < end && n < len(p) {
			k := copy(p[n:], d[b.off-at:])
			n += k
			b.off += int64(k)
		}
		at += int64(len(d))
	}
	return n, nil
}

func (b *body) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		off += b.off
	case io.SeekEnd:
		off += b.size
	}
	if off < 0 {
		return 0, errors.New("seek before the start of a part")
	}
	b.off = off
	return off, nil
}
