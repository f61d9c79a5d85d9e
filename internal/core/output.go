package core

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

// atomicOutput is a destination written under a temporary name and
// published only once complete, so that a reader never sees a partial file
// and a failed write leaves nothing:
//   - a local path: a temporary file in the same directory, fsynced and
//     renamed over the destination;
//   - an object store (which cannot rename, and publishes an object only
//     when its upload completes): a local temporary file, uploaded at commit;
//   - another GDAL virtual file system (/vsimem/, ...): a temporary name
//     beside the destination, renamed through GDAL.
type atomicOutput struct {
	dst, tmp string
}

// newAtomicOutput checks that dst can be written and picks the temporary
// name.
func newAtomicOutput(dst string) (*atomicOutput, error) {
	suffix, err := randomSuffix()
	if err != nil {
		return nil, err
	}
	if isObjectStore(dst) {
		if err := checkBucket(dst); err != nil {
			return nil, err
		}
		return &atomicOutput{dst: dst, tmp: filepath.Join(os.TempDir(), ".cloudio-upload-"+suffix+".tif")}, nil
	}
	if isVSI(dst) {
		dir, base := pathpkg.Split(dst)
		return &atomicOutput{dst: dst, tmp: dir + "." + base + "." + suffix + ".cloudio-tmp"}, nil
	}
	if err := checkOutputDir(dst); err != nil {
		return nil, err
	}
	if st, err := os.Stat(dst); err == nil && st.IsDir() {
		return nil, raster.Errorf(raster.StatusInvalidArgument, "destination %q is a directory", dst)
	}
	tmp := siblingTemp(dst, suffix)
	if err := checkPathLength(dst, tmp); err != nil {
		return nil, err
	}
	return &atomicOutput{dst: dst, tmp: tmp}, nil
}

// checkBucket reports an object-store destination whose bucket is missing,
// looking with the destination's own options at its parent prefix (a store
// may be granted that prefix only, not the bucket's root), or whose server
// does not answer.
func checkBucket(dst string) error {
	if err := answers(dst); err != nil {
		return err
	}
	return checkPrefix(parentOf(dst), true)
}

// checkOutputDir reports a local destination whose directory is missing.
func checkOutputDir(dst string) error {
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

// siblingTemp is a hidden temporary name in dst's directory, so that the
// final rename stays on one file system. It names the destination, cut short
// as the file name limit needs (a destination's name may be as long as that
// limit itself).
func siblingTemp(dst, suffix string) string {
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

func randomSuffix() (string, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", raster.Errorf(raster.StatusInternal, "no randomness for a temporary name: %v", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// commit publishes the finished temporary file at dst.
func (o *atomicOutput) commit() error {
	defer o.discard()
	switch {
	case isObjectStore(o.dst):
		return upload(o.tmp, o.dst)
	case isVSI(o.dst):
		if vsiRename(o.tmp, o.dst) != nil {
			return raster.Errorf(raster.StatusIO, "cannot move the finished file to %q", o.dst)
		}
		return nil
	}
	if err := syncPath(o.tmp); err != nil {
		return raster.Errorf(raster.StatusIO, "cannot flush %q: %v", o.dst, err)
	}
	if err := os.Rename(o.tmp, o.dst); err != nil {
		return raster.Errorf(raster.StatusIO, "cannot move the finished file to %q: %v", o.dst, err)
	}
	_ = syncPath(filepath.Dir(o.dst)) // the rename's durability; best effort where dirs cannot be synced
	return nil
}

// discard removes the temporary file and any side files GDAL made next to
// it (the COG driver writes overviews to "<name>.ovr.tmp" first).
func (o *atomicOutput) discard() {
	if isVSI(o.tmp) {
		for _, p := range []string{o.tmp, o.tmp + ".ovr.tmp", o.tmp + ".aux.xml"} {
			if pathExists(p) {
				unlinkVSI(p)
			}
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
	var e *raster.Error
	if !errors.As(err, &e) {
		return err
	}
	return &raster.Error{Status: e.Status, Msg: strings.ReplaceAll(e.Msg, o.tmp, o.dst)}
}

func syncPath(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
