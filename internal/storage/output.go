package storage

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	pathpkg "path"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/cloudio-dem/cloudio/internal/raster"
)

// AtomicOutput is a destination written under a temporary name and
// published only once complete, so that a reader never sees a partial file
// and a failed write leaves nothing:
//   - a local path: a temporary file in the same directory, fsynced and
//     renamed over the destination;
//   - an object store (which cannot rename, and publishes an object only
//     when its upload completes): a local temporary file, uploaded at commit;
//   - another GDAL virtual file system (/vsimem/, ...): a temporary name
//     beside the destination, renamed through GDAL.
type AtomicOutput struct {
	Dst, Tmp string // the destination, and the temporary name written first
	streamed bool   // the object was uploaded while it was written: Tmp is not used
}

// Streamed records that the object at Dst (an object store's) was uploaded
// whole while it was written, so that Commit has nothing left to upload.
func (o *AtomicOutput) Streamed() { o.streamed = true }

// NewAtomicOutput checks that dst can be written and picks the temporary
// name.
func NewAtomicOutput(dst string) (*AtomicOutput, error) {
	suffix, err := RandomSuffix()
	if err != nil {
		return nil, err
	}
	if IsObjectStore(dst) {
		if err := CheckBucket(dst); err != nil {
			return nil, err
		}
		return &AtomicOutput{Dst: dst, Tmp: filepath.Join(os.TempDir(), ".cloudio-upload-"+suffix+".tif")}, nil
	}
	if IsVSI(dst) {
		dir, base := pathpkg.Split(dst)
		return &AtomicOutput{Dst: dst, Tmp: dir + "." + base + "." + suffix + ".cloudio-tmp"}, nil
	}
	if err := CheckOutputDir(dst); err != nil {
		return nil, err
	}
	if st, err := os.Stat(dst); err == nil && st.IsDir() {
		return nil, raster.Errorf(raster.StatusInvalidArgument, "destination %q is a directory", dst)
	}
	tmp := SiblingTemp(dst, suffix)
	if err := checkPathLength(dst, tmp); err != nil {
		return nil, err
	}
	return &AtomicOutput{Dst: dst, Tmp: tmp}, nil
}

// CheckBucket reports an object-store destination whose bucket is missing,
// looking with the destination's own options at its parent prefix (a store
// may be granted that prefix only, not the bucket's root), or whose server
// does not answer.
func CheckBucket(dst string) error {
	if err := Answers(dst); err != nil {
		return err
	}
	return checkPrefix(parentOf(dst), true)
}

// CheckOutputDir reports a local destination whose directory is missing.
func CheckOutputDir(dst string) error {
	dir := filepath.Dir(dst)
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return raster.Errorf(raster.StatusNotFound, "output directory %q does not exist", dir)
	case err != nil:
		return raster.Errorf(raster.StatusIO, "cannot use output directory %q: %v", dir, err)
	case !st.IsDir():
		return raster.Errorf(raster.StatusNotFound, "output directory %q is not a directory", dir)
	}
	return nil
}

// nameMax is the longest file name (NAME_MAX) of the file systems cloudio
// writes to; sideFiles is room for the longest suffix GDAL or cloudio adds
// to a temporary name (".staging.tif", ".ovr.tmp", ".aux.xml").
const nameMax, sideFiles = 255, 12

// SiblingTemp is a hidden temporary name in dst's directory, so that the
// final rename stays on one file system. It names the destination, cut short
// as the file name limit needs (a destination's name may be as long as that
// limit itself).
func SiblingTemp(dst, suffix string) string {
	base := filepath.Base(dst)
	if keep := nameMax - sideFiles - len("."+"."+suffix+".cloudio-tmp"); len(base) > keep {
		base = base[:keep]
		for !utf8.ValidString(base) {
			base = base[:len(base)-1]
		}
	}
	return filepath.Join(filepath.Dir(dst), "."+base+"."+suffix+".cloudio-tmp")
}

// gdalPathMax bounds the names GDAL forms from a path (CPLFormFilename's
// buffer holds 2048 bytes, NUL included): a temporary name that, with its
// side files, would not fit is refused up front, with a clear message,
// rather than failing deep inside GDAL.
const gdalPathMax = 2047

func checkPathLength(dst, tmp string) error {
	if len(tmp)+sideFiles > gdalPathMax {
		return raster.Errorf(raster.StatusInvalidArgument, "destination %q is %d bytes long: with the temporary name and the side files GDAL makes from it (up to %d bytes more), it exceeds the %d bytes GDAL takes: use a shorter path",
			dst, len(dst), len(tmp)+sideFiles-len(dst), gdalPathMax)
	}
	return nil
}

func RandomSuffix() (string, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", raster.Errorf(raster.StatusInternal, "no randomness for a temporary name: %v", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// Commit publishes the finished temporary file at dst.
func (o *AtomicOutput) Commit() error {
	defer o.Discard()
	switch {
	case IsObjectStore(o.Dst) && o.streamed:
		forgetCached(o.Dst)
		return nil
	case IsObjectStore(o.Dst):
		return Upload(o.Tmp, o.Dst)
	case IsVSI(o.Dst):
		if vsiRename(o.Tmp, o.Dst) != nil {
			return raster.Errorf(raster.StatusIO, "cannot move the finished file to %q", o.Dst)
		}
		return nil
	}
	if err := SyncPath(o.Tmp); err != nil {
		return raster.Errorf(raster.StatusIO, "cannot flush %q: %v", o.Dst, err)
	}
	if err := os.Rename(o.Tmp, o.Dst); err != nil {
		return raster.Errorf(raster.StatusIO, "cannot move the finished file to %q: %v", o.Dst, err)
	}
	_ = SyncPath(filepath.Dir(o.Dst)) // the rename's durability; best effort where dirs cannot be synced
	return nil
}

// Discard removes the temporary file and any side files GDAL made next to
// it (the COG driver writes overviews to "<name>.ovr.tmp" first).
func (o *AtomicOutput) Discard() {
	if IsVSI(o.Tmp) {
		for _, p := range []string{o.Tmp, o.Tmp + ".ovr.tmp", o.Tmp + ".aux.xml"} {
			if PathExists(p) {
				_ = Unlink(p) // best effort: discard has already failed the write
			}
		}
		return
	}
	side, _ := filepath.Glob(o.Tmp + ".*")
	for _, p := range append(side, o.Tmp) {
		_ = os.Remove(p)
	}
}

// Friendly replaces the temporary name with the destination in a message.
func (o *AtomicOutput) Friendly(err error) error {
	var e *raster.Error
	if !errors.As(err, &e) {
		return err
	}
	return &raster.Error{Status: e.Status, Msg: strings.ReplaceAll(e.Msg, o.Tmp, o.Dst)}
}

func SyncPath(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
