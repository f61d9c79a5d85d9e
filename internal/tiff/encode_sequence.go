package tiff

import "sync"

// sequencer writes the records of one level's tiles to their section in
// row-major order, whatever order they are encoded in: a record that
// arrives early waits (compressed) until its predecessors are out. The
// goroutine that brings the next record writes it, and every waiting
// record that follows, without holding the lock during the writes.
type sequencer struct {
	mu      sync.Mutex
	next    int64 // the tile to write next
	writing bool
	waiting map[int64]pendingRecord
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

func newSequencer(tiles int64, write func([]byte) error) *sequencer {
	return &sequencer{waiting: map[int64]pendingRecord{}, at: make([]int64, tiles), image: make([]int64, tiles),
		length: make([]int64, tiles), write: write}
}

// put hands over the record of tile i (image bytes of imagery, then its
// mask's); rec is only read during the call.
func (s *sequencer) put(i int64, rec []byte, image int) error {
	s.mu.Lock()
	if s.err != nil || s.writing || i != s.next {
		s.waiting[i] = pendingRecord{append([]byte(nil), rec...), int64(image)}
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
			s.mu.Unlock()
			return err
		}
		s.written += int64(len(cur.data))
		s.next++
		i = s.next
		var ok bool
		if cur, ok = s.waiting[i]; !ok {
			s.writing = false
			s.mu.Unlock()
			return nil
		}
		delete(s.waiting, i)
	}
}

// complete says whether every tile has been written.
func (s *sequencer) complete() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.next == int64(len(s.at))
}
