package tiff

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// Sink receives a COG as the encoder produces it. The file is the head
// (header, IFDs, block arrays) followed by its sections in order: the
// overview levels from the smallest to the largest, then the full
// resolution, the last section. Sections are streams of block records
// that fill up as tiles are encoded, the full resolution first of all; the
// head is known only at the end, when every block's size is. This is what
// lets a sink stream a COG: an object store receives the full-resolution
// section as the parts after the head's (S3 multipart, Azure blocks) and
// the head last; a local file receives it in place.
type Sink interface {
	// Start is called once, first, with the most bytes each section can
	// take (an object store plans its parts from them).
	Start(sections []int64) error
	// Write appends p to section s. Calls for one section come one at a
	// time, in file order; calls for different sections may come at
	// once. p is only valid during the call.
	Write(s int, p []byte) error
	// Place says where each section starts in the file, for a head of
	// head bytes and sections of the given lengths. It must not change
	// the sink: the encoder may ask for more than one head length
	// (TIFF or BigTIFF) before Finish.
	Place(head int64, sections []int64) []int64
	// Finish writes the head at the start of the file and completes the
	// file, once every section is complete.
	Finish(head []byte) error
	// Abort discards the file, instead of Finish.
	Abort() error
}

// BackToBack places the sections right after the head, one after the
// other: what a Sink's Place says when the file holds nothing else.
func BackToBack(head int64, sections []int64) []int64 {
	starts := make([]int64, len(sections))
	pos := head
	for i, n := range sections {
		starts[i] = pos
		pos += n
	}
	return starts
}

// MemorySink keeps the COG in memory.
type MemorySink struct {
	mu       sync.Mutex
	sections [][]byte
	file     []byte
}

func (m *MemorySink) Start(sections []int64) error {
	m.sections = make([][]byte, len(sections))
	return nil
}

func (m *MemorySink) Write(s int, p []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sections[s] = append(m.sections[s], p...)
	return nil
}

func (m *MemorySink) Place(head int64, sections []int64) []int64 { return BackToBack(head, sections) }

func (m *MemorySink) Finish(head []byte) error {
	m.file = append([]byte(nil), head...)
	for _, s := range m.sections {
		m.file = append(m.file, s...)
	}
	m.sections = nil
	return nil
}

func (m *MemorySink) Abort() error {
	m.sections, m.file = nil, nil
	return nil
}

// Bytes is the finished file (nil before Finish).
func (m *MemorySink) Bytes() []byte { return m.file }

// FileSink writes a COG into a new local file, which the caller publishes
// (syncs and renames into place) once Finish succeeds. The full-resolution blocks, the bulk of
// the file, are written once, straight into the file from its start, as
// they are encoded; the overview sections go to spool files beside it
// (unlinked at once, so a crash leaves none behind). Finish then makes
// room in front of the full-resolution blocks for the head and the
// overviews: where the file system can insert a range into a file
// (FALLOC_FL_INSERT_RANGE: ext4, XFS) the blocks move without being
// copied, and the overviews are followed by zeros up to the file system's
// next block (under 4 KiB, which readers never see); elsewhere the blocks
// are moved in place, once, and nothing is added.
type FileSink struct {
	path    string
	f       *os.File
	spools  []*os.File
	full    int   // the full-resolution section
	written int64 // its bytes
	insert  int64 // the file system block size when ranges can be inserted, else 0
	lengths []int64
}

// CreateFileSink creates path, which must not exist.
func CreateFileSink(path string) (*FileSink, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		return nil, err
	}
	s := &FileSink{path: path, f: f}
	if s.insert, err = insertRangeBlock(f); err != nil {
		s.Abort()
		return nil, err
	}
	return s, nil
}

func (s *FileSink) Start(sections []int64) error {
	s.full = len(sections) - 1
	s.lengths = make([]int64, len(sections))
	for range s.full {
		spool, err := os.CreateTemp(filepath.Dir(s.path), ".cloudio-overviews-*")
		if err != nil {
			return err
		}
		s.spools = append(s.spools, spool)
		if err := os.Remove(spool.Name()); err != nil {
			return err
		}
	}
	return nil
}

func (s *FileSink) Write(section int, p []byte) error {
	f := s.f
	if section != s.full {
		f = s.spools[section]
	}
	if _, err := f.Write(p); err != nil {
		return err
	}
	s.lengths[section] += int64(len(p))
	return nil
}

func (s *FileSink) Place(head int64, sections []int64) []int64 {
	starts := BackToBack(head, sections)
	if s.insert > 0 {
		starts[s.full] = (starts[s.full] + s.insert - 1) / s.insert * s.insert
	}
	return starts
}

func (s *FileSink) Finish(head []byte) error {
	starts := s.Place(int64(len(head)), s.lengths)
	room := starts[s.full]
	var err error
	if s.insert > 0 {
		err = insertRange(s.f, room)
	} else {
		err = shiftForward(s.f, s.lengths[s.full], room)
	}
	if err == nil {
		_, err = s.f.WriteAt(head, 0)
	}
	for i := 0; err == nil && i < s.full; i++ {
		err = s.copySpool(i, starts[i])
	}
	if closeErr := s.f.Close(); err == nil {
		err = closeErr
	}
	s.f = nil
	s.closeSpools()
	if err != nil {
		return errors.Join(fmt.Errorf("cannot complete %s: %w", s.path, err), os.Remove(s.path))
	}
	return nil
}

// copySpool copies overview section i to its place in the file (the
// kernel copies it: copy_file_range).
func (s *FileSink) copySpool(i int, at int64) error {
	if _, err := s.spools[i].Seek(0, io.SeekStart); err != nil {
		return err
	}
	if _, err := s.f.Seek(at, io.SeekStart); err != nil {
		return err
	}
	n, err := io.Copy(s.f, s.spools[i])
	if err == nil && n != s.lengths[i] {
		err = fmt.Errorf("overview section %d: copied %d of %d bytes", i, n, s.lengths[i])
	}
	return err
}

// shiftForward moves the first n bytes of f by room bytes, from the end
// so that nothing is overwritten before it is moved.
func shiftForward(f *os.File, n, room int64) error {
	buf := make([]byte, 4<<20)
	for end := n; end > 0; {
		start := max(0, end-int64(len(buf)))
		chunk := buf[:end-start]
		if _, err := f.ReadAt(chunk, start); err != nil {
			return err
		}
		if _, err := f.WriteAt(chunk, start+room); err != nil {
			return err
		}
		end = start
	}
	return nil
}

func (s *FileSink) Abort() error {
	s.closeSpools()
	if s.f == nil {
		return nil
	}
	s.f.Close()
	s.f = nil
	if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func (s *FileSink) closeSpools() {
	for _, f := range s.spools {
		f.Close()
	}
	s.spools = nil
}
