package core

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// atomicOutput is a destination written under a temporary name in the same
// directory and renamed over the destination once complete, so that a
// reader never sees a partial file and a failed write leaves nothing.
type atomicOutput struct {
	dst, tmp string
}

func isVSI(name string) bool { return strings.HasPrefix(name, "/vsi") }

// newAtomicOutput checks that dst can be written and picks the temporary
// name. Object stores and other GDAL virtual file systems publish a file
// only when it is complete; they are written in place.
func newAtomicOutput(dst string) (*atomicOutput, error) {
	if isVSI(dst) {
		return &atomicOutput{dst: dst, tmp: dst}, nil
	}
	dir := filepath.Dir(dst)
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, errorf(StatusNotFound, "output directory %q does not exist", dir)
	case err != nil:
		return nil, errorf(StatusIO, "cannot use output directory %q: %v", dir, err)
	case !st.IsDir():
		return nil, errorf(StatusNotFound, "output directory %q is not a directory", dir)
	}
	if st, err := os.Stat(dst); err == nil && st.IsDir() {
		return nil, errorf(StatusInvalidArgument, "destination %q is a directory", dst)
	}
	var suffix [6]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		return nil, errorf(StatusInternal, "no randomness for a temporary name: %v", err)
	}
	tmp := filepath.Join(dir, "."+filepath.Base(dst)+"."+hex.EncodeToString(suffix[:])+".cloudio-tmp")
	return &atomicOutput{dst: dst, tmp: tmp}, nil
}

// commit makes the finished temporary file durable and moves it to dst.
func (o *atomicOutput) commit() error {
	if o.tmp == o.dst {
		return nil
	}
	if err := syncPath(o.tmp); err != nil {
		o.discard()
		return errorf(StatusIO, "cannot flush %q: %v", o.dst, err)
	}
	if err := os.Rename(o.tmp, o.dst); err != nil {
		o.discard()
		return errorf(StatusIO, "cannot move the finished file to %q: %v", o.dst, err)
	}
	_ = syncPath(filepath.Dir(o.dst)) // the rename's durability; best effort where dirs cannot be synced
	return nil
}

// discard removes the temporary file and any side files GDAL made next to
// it (the COG driver writes overviews to "<name>.ovr.tmp" first).
func (o *atomicOutput) discard() {
	if o.tmp == o.dst {
		if pathExists(o.dst) {
			unlinkVSI(o.dst)
		}
		return
	}
	side, _ := filepath.Glob(o.tmp + ".*")
	for _, p := range append(side, o.tmp) {
		_ = os.Remove(p)
	}
}

// friendly replaces the temporary name with the destination in a message.
func (o *atomicOutput) friendly(err error) error {
	var e *Error
	if o.tmp == o.dst || !errors.As(err, &e) {
		return err
	}
	return &Error{Status: e.Status, Msg: strings.ReplaceAll(e.Msg, o.tmp, o.dst)}
}

func syncPath(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
