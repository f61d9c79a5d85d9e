package tiff

import "sync"

// sequencer writes the records of one level's tiles to their section in
// row-major order, whatever order they are encoded in: a record that
// arrives early waits (compressed) until its predecessors are out. The
// goroutine that brings the next record writes it, and every waiting
// record that follows, without holding the lock during the writes.
//
// A sink slower than the encoding (a disk, an upload) holds the writer:
// the goroutines that bring records meanwhile leave them and then wait
// while more than maxQueued bytes are waiting (so at most maxQueued and
// a record per goroutine wait), so that the encoding slows
// to the sink's pace instead of piling records up. They wait only while
// a write is under way, which ends on its own: no goroutine waits for
// another's record.
type sequencer struct {
	mu      sync.Mutex
	drained *sync.Cond // a write ended, or the queue shrank
	next    int64      // the tile to write next
	writing bool
	waiting map[int64]pendingRecord
	queued  int64   // bytes of the waiting records
	written int64   // bytes written to the section
	at      []int64 // where each tile's record starts in the section
	image   []int64 // each record's length of imagery (the rest is the mask's)
	length  []int64
	write   func([]byte) error
	err     error
}

type pendingRecord struct {
	data  []byte
	image int64
}

// maxQueued bounds the records waiting for a busy writer: a few
// full-size uncompressed tiles.
var maxQueued int64 = 16 << 20

func newSequencer(tiles int64, write func([]byte) error) *sequencer {
	s := &sequencer{waiting: map[int64]pendingRecord{}, at: make([]int64, tiles), image: make([]int64, tiles),
		length: make([]int64, tiles), write: write}
	s.drained = sync.NewCond(&s.mu)
	return s
}

// put hands over the record of tile i (image bytes of imagery, then its
// mask's); rec is only read during the call.
func (s *sequencer) put(i int64, rec []byte, image int) error {
	s.mu.Lock()
	if s.err != nil || s.writing || i != s.next {
		s.waiting[i] = pendingRecord{append([]byte(nil), rec...), int64(image)}
		s.queued += int64(len(rec))
		for s.err == nil && s.writing && s.queued > maxQueued {
			s.drained.Wait()
		}
		err := s.err
		s.mu.Unlock()
		return err
	}
	s.writing = true
	cur := pendingRecord{rec, int64(image)}
	for {
		s.at[i], s.image[i], s.length[i] = s.written, cur.image, int64(len(cur.data))
		s.mu.Unlock()
		err := s.write(cur.data)
		s.mu.Lock()
		if err != nil {
			s.err, s.writing = err, false
			s.drained.Broadcast()
			s.mu.Unlock()
			return err
		}
		s.written += int64(len(cur.data))
		s.next++
		i = s.next
		var ok bool
		if cur, ok = s.waiting[i]; !ok {
			s.writing = false
			s.drained.Broadcast()
			s.mu.Unlock()
			return nil
		}
		delete(s.waiting, i)
		s.queued -= int64(len(cur.data))
		s.drained.Broadcast()
	}
}

// complete says whether every tile has been written.
func (s *sequencer) complete() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.next == int64(len(s.at))
}
