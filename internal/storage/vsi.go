package storage

/*
#cgo pkg-config: gdal
#cgo CFLAGS: -I${SRCDIR}/../gdalc
#include <stdlib.h>
#include <cpl_vsi.h>
#include "vsi.h"
*/
import "C"
import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"unsafe"

	"github.com/cloudio-dem/cloudio/internal/gdalc"
	"github.com/cloudio-dem/cloudio/internal/raster"
)

// threadOptions are read by GDAL 3.6 from its global or the calling
// thread's configuration only, never from the options scoped to a path
// (VSISetPathSpecificOption), although a store sets them for its prefix:
// without pinning, an endpoint that stops answering holds a call for ever.
var threadOptions = []string{"GDAL_HTTP_TIMEOUT", "GDAL_HTTP_CONNECTTIMEOUT", "GDAL_HTTP_MAX_RETRY", "GDAL_HTTP_RETRY_DELAY",
	"GDAL_HTTP_LOW_SPEED_TIME", "GDAL_HTTP_LOW_SPEED_LIMIT", "CPL_VSIL_USE_TEMP_FILE_FOR_RANDOM_WRITE"}

// Pinned runs fn with the store options that apply to store (a file or
// store name, see Name.Store) set on the calling thread: fn's GDAL calls
// must run on it. They are the threadOptions, and every option configured
// for a prefix of store: GDAL 3.6 lists an object-store prefix with the
// options of its bucket, so a store scoped to a sub-prefix
// ("s3://bucket/team") could not list, nor check, its own prefix otherwise.
func Pinned(store string, fn func()) {
	if !IsVSI(store) { // no store options for local files
		fn()
		return
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	keys := gdalc.NewStrings(pinnedKeys(store))
	defer keys.Free()
	cname := C.CString(store)
	saved := C.cloudioPinOptions(cname, (**C.char)(keys.C()))
	C.free(unsafe.Pointer(cname))
	defer C.cloudioUnpinOptions(saved)
	fn()
}

// pinnedKeys are the threadOptions and the keys configured for any prefix
// of name.
func pinnedKeys(name string) []string {
	keys := append([]string(nil), threadOptions...)
	configured.mu.Lock()
	defer configured.mu.Unlock()
	for prefix, opts := range configured.options {
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		for _, o := range opts {
			if !slices.Contains(keys, o.Key) {
				keys = append(keys, o.Key)
			}
		}
	}
	return keys
}

// PathExists asks GDAL's virtual file system, so it answers for local paths
// and /vsi... names alike.
func PathExists(name string) bool {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var found C.int
	Pinned(name, func() { found = C.cloudioPathExists(cname) })
	return found != 0
}

// vsiCall runs a helper of vsi.c with name's options pinned and a fresh
// error context, and returns what the helper collected.
func vsiCall(name string, call func(errs *C.cloudioErrors)) gdalc.Report {
	errs := gdalc.NewErrors()
	defer errs.Free()
	Pinned(name, func() { call((*C.cloudioErrors)(errs.C())) })
	return errs.Report()
}

// vsiAsk runs a helper of vsi.c that answers yes or no about name, as
// vsiCall does with store's options.
func vsiAsk(store, name string, ask func(name *C.char, errs *C.cloudioErrors) C.int) (bool, gdalc.Report) {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var yes C.int
	r := vsiCall(store, func(errs *C.cloudioErrors) { yes = ask(cname, errs) })
	return yes != 0, r
}

// StatFresh is whether name exists, asked of its server rather than of
// GDAL's cache; a server that does not answer, or refuses the
// credentials, is an error.
func StatFresh(name string) (bool, error) {
	found, r := vsiAsk(name, name, func(n *C.char, errs *C.cloudioErrors) C.int { return C.cloudioStatFresh(n, errs) })
	switch {
	case found:
		return true, nil
	case r.NoAnswer():
		return false, raster.Errorf(raster.StatusIO, "no answer from the server of %q (unreachable, or it timed out)", name)
	case gdalc.DeniedStatus(r.Warning):
		return false, raster.Errorf(raster.StatusIO, "the server refused these credentials for %q", name)
	}
	return false, nil
}

// listState is whether a prefix can be listed, and why not.
type listState int

const (
	listMissing   listState = iota
	listOK                  // there to look into
	listRefused             // the server refused the credentials
	listNoAnswer            // the server did not answer
	listForbidden           // the bucket exists, but these credentials may not look at that key
	listUnknown             // the prefix has no objects, and the store did not say whether its bucket exists
)

// canList is whether prefix (a directory, or an object store's bucket,
// container or prefix) can be listed with the options scoped to it.
// Listing prefix itself uses the options scoped to it on every object
// store (pinned onto the thread: GDAL 3.6 lists with its bucket's), whereas
// a stat of a bare Azure container lists the whole account with the
// options scoped to "/vsiaz/", so it cannot see a container that only
// per-container credentials reach. The answer is the server's, now.
func canList(prefix string) listState {
	opened, listing := vsiAsk(prefix, prefix, func(n *C.char, errs *C.cloudioErrors) C.int { return C.cloudioOpensAsDir(n, errs) })
	if opened {
		return listOK
	}
	return listFailure(prefix, listing)
}

// listFailure is the state of prefix, whose listing failed. A listing
// cannot tell an empty prefix from a missing bucket or refused credentials
// (GDAL 3.6 reports an S3 refusal of a listing as a warning, an Azure one
// not at all), but reading a key under the prefix can: GDAL names the
// object-store error (a missing key in an existing bucket, a missing
// bucket, refused credentials), and warns with the HTTP status on every
// store.
func listFailure(prefix string, listing gdalc.Report) listState {
	switch {
	case gdalc.DeniedStatus(listing.Warning):
		return listRefused
	case listing.NoAnswer():
		return listNoAnswer
	}
	probe := strings.TrimSuffix(prefix, "/") + "/.cloudio-access-probe"
	opened, r := vsiAsk(prefix, probe, func(n *C.char, errs *C.cloudioErrors) C.int { return C.cloudioOpensForReading(n, errs) })
	if opened {
		return listOK
	}
	switch r.VSICode {
	case gdalc.VSIEAWSObjectNotFound:
		return listOK // the bucket is there, and these credentials may look into it
	case gdalc.VSIEAWSBucketNotFound:
		return listMissing
	case gdalc.VSIEAWSAccessDenied:
		return listForbidden
	case gdalc.VSIEAWSInvalidCredentials, gdalc.VSIEAWSSignatureDoesNotMatch:
		return listRefused
	}
	if gdalc.DeniedStatus(r.Warning) || gdalc.DeniedStatus(r.VSIMsg) {
		return listRefused
	}
	// Azure (in GDAL 3.6) tells a missing container from a missing blob by
	// no more than a 404.
	if r.NoAnswer() {
		return listNoAnswer
	}
	return listUnknown
}

// checkPrefix fails unless prefix (an object store's bucket or container,
// or a prefix in it: a destination's parent) exists and these credentials
// can look into it, with the prefix's own options. forbiddenOK lets pass a
// prefix whose bucket exists but whose keys these credentials may not read,
// which may still be written (a write-only policy).
func checkPrefix(prefix string, forbiddenOK bool) error {
	return prefixError(canList(prefix), prefix, forbiddenOK)
}

// prefixError is the error of a prefix in listing state, nil when it is
// there to look into.
func prefixError(state listState, prefix string, forbiddenOK bool) error {
	switch state {
	case listOK:
		return nil
	case listForbidden:
		if forbiddenOK {
			return nil
		}
		return raster.Errorf(raster.StatusIO, "the server refused to show %q to these credentials", prefix)
	case listRefused:
		return raster.Errorf(raster.StatusIO, "the server refused these credentials for %q", prefix)
	case listNoAnswer:
		return raster.Errorf(raster.StatusIO, "no answer from the server of %q (unreachable, or it timed out)", prefix)
	case listUnknown:
		if bucket := bucketOf(prefix); bucket != prefix { // an empty prefix: is its bucket there?
			return checkPrefix(bucket, forbiddenOK)
		}
	}
	return raster.Errorf(raster.StatusNotFound, "%q does not exist: no such directory, or no such bucket or container (or these credentials cannot see it)", prefix)
}

// Unreachable is, for a name a stat did not find, the error of its server
// refusing the credentials or not answering: a failed stat cannot tell
// those from a missing object. nil when the object is just missing.
func Unreachable(name string) error {
	if !IsObjectStore(name) {
		return nil
	}
	if err := checkPrefix(parentOf(name), false); raster.StatusOf(err) == raster.StatusIO {
		return err
	}
	return nil
}

// Unlink removes a file or object through GDAL's virtual file system.
func Unlink(name string) error { return unlink(name, name) }

// unlink removes name, called label in the error.
func unlink(name, label string) error {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	r := vsiCall(name, func(errs *C.cloudioErrors) { C.cloudioUnlink(cname, errs) })
	if r.Failed {
		return r.Err(fmt.Sprintf("cannot delete %q", label), raster.StatusIO)
	}
	return nil
}

func vsiRename(from, to string) error {
	cfrom, cto := C.CString(from), C.CString(to)
	defer C.free(unsafe.Pointer(cfrom))
	defer C.free(unsafe.Pointer(cto))
	var renamed C.int
	r := vsiCall(to, func(errs *C.cloudioErrors) { renamed = C.cloudioRename(cfrom, cto, errs) })
	if renamed == 0 {
		return r.Err(fmt.Sprintf("cannot rename %q to %q", from, to), raster.StatusIO)
	}
	return nil
}

// forgetCached drops what GDAL cached of name (its size, its bytes), so
// that later reads see the object cloudio has just written.
func forgetCached(name string) {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	C.VSICurlPartialClearCache(cname)
}

// Upload copies a local file to an object store; the object appears only if
// the whole upload succeeds.
func Upload(local, dst string) error {
	csrc, cdst := C.CString(local), C.CString(dst)
	defer C.free(unsafe.Pointer(csrc))
	defer C.free(unsafe.Pointer(cdst))
	r := vsiCall(dst, func(errs *C.cloudioErrors) { C.cloudioUpload(csrc, cdst, errs) })
	if r.Failed {
		return r.Err(fmt.Sprintf("cannot upload %q", dst), raster.StatusIO)
	}
	return nil
}
