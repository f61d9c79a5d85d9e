package storage

import (
	pathpkg "path"
	"strings"
	"unicode/utf8"

	"github.com/cloudio-dem/cloudio/internal/raster"
)

// scheme maps a URL prefix users write to GDAL's virtual file system.
type scheme struct {
	prefix  string
	vsi     string // replaces the prefix
	keepURL bool   // /vsicurl/ takes the whole URL after it
}

// The one place where URLs become GDAL names.
var schemes = []scheme{
	{"s3://", "/vsis3/", false},
	{"gs://", "/vsigs/", false},
	{"gcs://", "/vsigs/", false},
	{"az://", "/vsiaz/", false},
	{"azure://", "/vsiaz/", false},
	{"http://", "/vsicurl/", true},
	{"https://", "/vsicurl/", true},
	{"file://", "", false},
}

// objectStores publish an object only when its upload completes; they
// cannot rename.
var objectStores = []string{"/vsis3/", "/vsigs/", "/vsiaz/", "/vsiadls/", "/vsioss/", "/vsiswift/", "/vsiwebhdfs/"}

// GDALName maps s3://, gs://, az://, http(s):// and file:// URLs to GDAL's
// names for them, also as the store of a Zarr array's name
// (ZARR:"s3://bucket/dem.zarr":/dem); anything else (a path, a /vsi...
// name, another driver-prefixed name) is returned as it is.
func GDALName(name string) string {
	if rest, ok := strings.CutPrefix(name, `ZARR:"`); ok {
		if store, array, ok := strings.Cut(rest, `"`); ok {
			return `ZARR:"` + GDALName(store) + `"` + array
		}
	}
	for _, s := range schemes {
		if len(name) <= len(s.prefix) || !strings.EqualFold(name[:len(s.prefix)], s.prefix) {
			continue
		}
		if s.keepURL {
			return s.vsi + name
		}
		return s.vsi + name[len(s.prefix):]
	}
	return name
}

// Name is a raster's name resolved once, where the caller's string enters
// the library (Resolve): the layers below take its parts as they are and
// never classify the string again.
type Name struct {
	User   string // the caller's name as GDAL knows it (a URL's /vsi... name), for messages
	GDAL   string // what GDAL opens: User, or what it stands for (see Opening)
	Store  string // the file or store whose options and timeouts apply: a Zarr array's store, else User
	Local  bool   // a local path: no store options apply
	Remote bool   // an object store or HTTP: reads are latency-bound
}

// Resolve validates and maps a name to read from (as InputName does) and
// classifies it.
func Resolve(what, name string) (Name, error) {
	gdal, err := InputName(what, name)
	if err != nil {
		return Name{}, err
	}
	store := StoreOf(gdal)
	return Name{User: gdal, GDAL: gdal, Store: store, Local: !IsVSI(store), Remote: IsRemote(store)}, nil
}

// LocalName is the Name of a local path cloudio made itself (a staging
// file), which needs no resolving.
func LocalName(path string) Name { return Name{User: path, GDAL: path, Store: path, Local: true} }

// Opening is n opened as gdal instead (a VRT that stacks the bands of n's
// Zarr store, say): the same raster, in the same store.
func (n Name) Opening(gdal string) Name {
	n.GDAL = gdal
	return n
}

// InputName validates and maps a name to read from.
func InputName(what, name string) (string, error) {
	if name == "" {
		return "", raster.Errorf(raster.StatusInvalidArgument, "%s path is empty", what)
	}
	if !utf8.ValidString(name) {
		return "", raster.Errorf(raster.StatusInvalidArgument, "%s path %q is not valid UTF-8", what, name)
	}
	return GDALName(name), nil
}

// OutputName validates and maps a name to write to; HTTP is read-only.
func OutputName(what, name string) (string, error) {
	mapped, err := InputName(what, name)
	if err != nil {
		return "", err
	}
	if strings.HasPrefix(mapped, "/vsicurl/") || strings.HasPrefix(mapped, "/vsicurl_streaming/") {
		return "", raster.Errorf(raster.StatusInvalidArgument, "%s %q is read-only: HTTP URLs cannot be written", what, name)
	}
	return mapped, nil
}

func IsObjectStore(name string) bool {
	for _, p := range objectStores {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

func IsVSI(name string) bool { return strings.HasPrefix(name, "/vsi") }

// bucketOf is the bucket (or container) part of an object-store name:
// "/vsis3/bucket/a/b.tif" -> "/vsis3/bucket".
func bucketOf(name string) string {
	for _, p := range objectStores {
		if rest, ok := strings.CutPrefix(name, p); ok {
			bucket, _, _ := strings.Cut(rest, "/")
			return p + bucket
		}
	}
	return name
}

// parentOf is the prefix (directory) a name lies in:
// "/vsis3/bucket/a/b.tif" -> "/vsis3/bucket/a"; a bucket is its own.
func parentOf(name string) string {
	bucket := bucketOf(name)
	parent := pathpkg.Dir(strings.TrimSuffix(name, "/"))
	if len(parent) < len(bucket) {
		return bucket
	}
	return parent
}

// StoreOf is the file or store a GDAL name reads: the store of a Zarr
// array's name (ZARR:"/vsis3/bucket/dem.zarr":/dem), else the name.
func StoreOf(name string) string {
	if rest, ok := strings.CutPrefix(name, `ZARR:"`); ok {
		if store, _, ok := strings.Cut(rest, `"`); ok {
			return store
		}
	}
	return name
}

// IsRemote: reads are latency-bound, so readers keep more requests in flight.
func IsRemote(name string) bool {
	return IsObjectStore(name) || strings.HasPrefix(name, "/vsicurl")
}
