package storage

import (
	"os"
	pathpkg "path"
	"path/filepath"
	"strings"

	"github.com/cloudio-dem/cloudio/internal/raster"
)

// CheckNotSource is the one rule every writer applies: a destination that
// names its source is refused, so that no write replaces the raster it is
// reading. Both names are GDAL names (see GDALName, which maps file:// and
// the store URLs); they name the same raster when they agree after
// resolving ".", "..", symbolic links and hard links (local files), or name
// the same key of the same bucket (object stores, also through their
// _streaming variants). A Zarr array's name (ZARR:"store":/array) counts
// as its store.
func CheckNotSource(src, dst, format string) error {
	if sameRaster(src, dst) {
		return raster.Errorf(raster.StatusInvalidArgument, "destination %q is the source %q: write the %s to another path", dst, src, format)
	}
	return nil
}

func sameRaster(src, dst string) bool {
	a, b := canonicalName(src), canonicalName(dst)
	if a == b {
		return true
	}
	if IsVSI(a) || IsVSI(b) {
		return false
	}
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(sa, sb) // hard links
}

// canonicalName is name with its store prefix, path and links resolved as
// far as they exist.
func canonicalName(name string) string {
	if rest, ok := strings.CutPrefix(name, `ZARR:"`); ok {
		if store, _, ok := strings.Cut(rest, `"`); ok {
			name = store
		}
	}
	if IsVSI(name) {
		prefix, rest, _ := strings.Cut(strings.TrimPrefix(name, "/"), "/")
		prefix = strings.TrimSuffix(prefix, "_streaming")
		return "/" + prefix + "/" + strings.TrimPrefix(pathpkg.Clean("/"+rest), "/")
	}
	abs, err := filepath.Abs(name)
	if err != nil {
		return filepath.Clean(name)
	}
	// Resolve the links of the longest part that exists (a destination
	// usually does not exist yet; its directory does).
	dir, tail := abs, ""
	for {
		if resolved, err := filepath.EvalSymlinks(dir); err == nil {
			return filepath.Join(resolved, tail)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return abs
		}
		dir, tail = parent, filepath.Join(filepath.Base(dir), tail)
	}
}
