package core

/*
#cgo pkg-config: gdal
#include <stdlib.h>
#include <cpl_conv.h>
#include <cpl_vsi.h>
#include <cpl_error.h>
#include "translate.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"github.com/airbusgeo/godal"

	"github.com/cloudio-dem/cloudio/internal/raster"
)

// Version is the library's own version.
const Version = "0.1.0"

// DefaultCacheMax bounds GDAL's block cache (GDAL's own default is 5% of RAM,
// over a gigabyte on a large machine) unless the user set GDAL_CACHEMAX.
const DefaultCacheMax = "32MB"

var initOnce sync.Once

// Init registers GDAL's drivers and bounds its block cache. Every entry point
// calls it; only the first call does anything.
func Init() {
	initOnce.Do(func() {
		godal.RegisterAll()
		v := godal.Version()
		gdalHasInt8 = v.Major() > 3 || (v.Major() == 3 && v.Minor() >= 7)
		if os.Getenv("GDAL_CACHEMAX") == "" {
			setConfig("GDAL_CACHEMAX", DefaultCacheMax)
		}
		// A test hook for the C and Python tests: a panic at one fault point
		// (see faultPoint), which must come back as the operation's
		// CLOUDIO_ERR_INTERNAL.
		if where := os.Getenv("CLOUDIO_TEST_PANIC"); where != "" {
			raster.FaultHook = func(at string) {
				if at == where {
					panic("injected by CLOUDIO_TEST_PANIC=" + where)
				}
			}
		}
	})
}

// setConfig sets a process-wide GDAL configuration option; godal has no call
// for it.
func setConfig(key, value string) {
	ck, cv := C.CString(key), C.CString(value)
	defer C.free(unsafe.Pointer(ck))
	defer C.free(unsafe.Pointer(cv))
	C.CPLSetConfigOption(ck, cv)
}

// VersionString is "0.1.0 (GDAL 3.6.2)".
func VersionString() string {
	v := godal.Version()
	return fmt.Sprintf("%s (GDAL %d.%d.%d)", Version, v.Major(), v.Minor(), v.Revision())
}

// CPLE error numbers (cpl_error.h) used to classify GDAL failures.
const (
	cpleFileIO            = 3
	cpleOpenFailed        = 4
	cpleIllegalArg        = 5
	cpleNotSupported      = 6
	cpleUserInterrupt     = 9
	cpleHTTPResponse      = 11
	cpleAWSBucketNotFound = 12
	cpleAWSObjectNotFound = 13
)

// gdalErrors collects the failures GDAL raises during one godal call;
// warnings are not failures (godal's default treats them as errors).
type gdalErrors struct {
	code    int
	msgs    []string
	warning string // the last warning: GDAL reports HTTP failures (403, ...) only so
}

func (g *gdalErrors) handler() godal.ErrorHandler {
	return func(ec godal.ErrorCategory, code int, msg string) error {
		if ec == godal.CE_Warning {
			g.warning = msg
		}
		if ec < godal.CE_Failure {
			return nil
		}
		if len(g.msgs) == 0 {
			g.code = code
		}
		g.msgs = append(g.msgs, msg)
		return errors.New(msg)
	}
}

// noAnswer reports whether GDAL said that a server did not answer.
func (g *gdalErrors) noAnswer() bool {
	for _, m := range append([]string{g.warning}, g.msgs...) {
		cm := C.CString(m)
		no := C.cloudioNoAnswer(cm) != 0
		C.free(unsafe.Pointer(cm))
		if no {
			return true
		}
	}
	return false
}

// err returns the collected failures as an *Error with the status fallback,
// refined by the CPLE number of the first failure; nil when none was raised
// and call succeeded.
func (g *gdalErrors) err(context string, fallback raster.Status) error {
	msg := strings.Join(g.msgs, "; ")
	if g.warning != "" {
		msg += " (GDAL warned: " + g.warning + ")"
	}
	if msg == "" {
		return raster.Errorf(fallback, "%s", context)
	}
	status := classify(g.code, fallback)
	if deniedAccess(msg) {
		status = raster.StatusIO // the object may well exist: these credentials may not see it
	}
	return raster.Errorf(status, "%s: %s", context, strings.TrimPrefix(msg, " "))
}

// deniedAccess recognises an object store refusing the credentials.
func deniedAccess(msg string) bool {
	for _, s := range []string{"signature we calculated does not match", "Access Denied", "AccessDenied", "InvalidAccessKeyId", ": 403", ": 401"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// newCErrors is a zeroed cloudioErrors in C memory, for a C helper to fill
// (free it with C.free): C code writes only C memory, which valgrind
// tracks (make test-c), and never Go's, whose stacks and heap it cannot.
func newCErrors() *C.cloudioErrors {
	return (*C.cloudioErrors)(C.calloc(1, C.size_t(unsafe.Sizeof(C.cloudioErrors{}))))
}

func classify(code int, fallback raster.Status) raster.Status {
	switch code {
	case cpleUserInterrupt:
		return raster.StatusCancelled
	case cpleIllegalArg:
		return raster.StatusInvalidArgument
	case cpleNotSupported:
		return raster.StatusUnsupported
	case cpleAWSBucketNotFound, cpleAWSObjectNotFound:
		return raster.StatusNotFound
	}
	return fallback
}

// threadOptions are read by GDAL 3.6 from its global or the calling
// thread's configuration only, never from the options scoped to a path
// (VSISetPathSpecificOption), although a store sets them for its prefix:
// without pinning, an endpoint that stops answering holds a call for ever.
var threadOptions = []string{"GDAL_HTTP_TIMEOUT", "GDAL_HTTP_CONNECTTIMEOUT", "GDAL_HTTP_MAX_RETRY", "GDAL_HTTP_RETRY_DELAY",
	"GDAL_HTTP_LOW_SPEED_TIME", "GDAL_HTTP_LOW_SPEED_LIMIT", "CPL_VSIL_USE_TEMP_FILE_FOR_RANDOM_WRITE"}

// pinned runs fn with the store options that apply to name set on the
// calling thread: fn's GDAL calls must run on it. They are the
// threadOptions, and every option configured for a prefix of name: GDAL
// 3.6 lists an object-store prefix with the options of its bucket, so a
// store scoped to a sub-prefix ("s3://bucket/team") could not list, nor
// check, its own prefix otherwise.
func pinned(name string, fn func()) {
	name = storeOf(name)
	if !isVSI(name) { // no store options for local files
		fn()
		return
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	keys := newCStrings(pinnedKeys(name))
	defer keys.free()
	cname := C.CString(name)
	saved := C.cloudioPinOptions(cname, keys.ptr())
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
			if !contains(keys, o.Key) {
				keys = append(keys, o.Key)
			}
		}
	}
	return keys
}

// pathExists asks GDAL's virtual file system, so it answers for local paths
// and /vsi... names alike.
func pathExists(name string) bool {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var found C.int
	pinned(name, func() { found = C.cloudioPathExists(cname) })
	return found != 0
}

// statFresh is whether name exists, asked of its server rather than of
// GDAL's cache; a server that does not answer, or refuses the
// credentials, is an error.
func statFresh(name string) (bool, error) {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var state C.int
	pinned(name, func() { state = C.cloudioStat(cname) })
	switch state {
	case 1:
		return true, nil
	case -1:
		return false, raster.Errorf(raster.StatusIO, "no answer from the server of %q (unreachable, or it timed out)", name)
	case -2:
		return false, raster.Errorf(raster.StatusIO, "the server refused these credentials for %q", name)
	}
	return false, nil
}

// checkPrefix fails unless prefix (an object store's bucket or container,
// or a prefix in it: a destination's parent) exists and these credentials
// can look into it, with the prefix's own options. forbiddenOK lets pass a
// prefix whose bucket exists but whose keys these credentials may not read,
// which may still be written (a write-only policy).
func checkPrefix(prefix string, forbiddenOK bool) error {
	cname := C.CString(prefix)
	defer C.free(unsafe.Pointer(cname))
	var state C.int
	pinned(prefix, func() { state = C.cloudioCanList(cname) })
	return prefixError(state, prefix, forbiddenOK)
}

// prefixError is the error of a prefix in listing state (a CLOUDIO_LIST_*),
// nil when it is there to look into.
func prefixError(state C.int, prefix string, forbiddenOK bool) error {
	switch state {
	case C.CLOUDIO_LIST_OK:
		return nil
	case C.CLOUDIO_LIST_FORBIDDEN:
		if forbiddenOK {
			return nil
		}
		return raster.Errorf(raster.StatusIO, "the server refused to show %q to these credentials", prefix)
	case C.CLOUDIO_LIST_REFUSED:
		return raster.Errorf(raster.StatusIO, "the server refused these credentials for %q", prefix)
	case C.CLOUDIO_LIST_NO_ANSWER:
		return raster.Errorf(raster.StatusIO, "no answer from the server of %q (unreachable, or it timed out)", prefix)
	case C.CLOUDIO_LIST_UNKNOWN:
		if bucket := bucketOf(prefix); bucket != prefix { // an empty prefix: is its bucket there?
			return checkPrefix(bucket, forbiddenOK)
		}
	}
	return raster.Errorf(raster.StatusNotFound, "%q does not exist: no such directory, or no such bucket or container (or these credentials cannot see it)", prefix)
}

// unreachable is, for a name a stat did not find, the error of its server
// refusing the credentials or not answering: a failed stat cannot tell
// those from a missing object. nil when the object is just missing.
func unreachable(name string) error {
	if !isObjectStore(name) {
		return nil
	}
	if err := checkPrefix(parentOf(name), false); raster.StatusOf(err) == raster.StatusIO {
		return err
	}
	return nil
}

// unlinkVSI removes a file through GDAL's virtual file system.
func unlinkVSI(name string) {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	pinned(name, func() { C.VSIUnlink(cname) })
}

func vsiRename(from, to string) error {
	cfrom, cto := C.CString(from), C.CString(to)
	defer C.free(unsafe.Pointer(cfrom))
	defer C.free(unsafe.Pointer(cto))
	var rc C.int
	pinned(to, func() { rc = C.cloudioRename(cfrom, cto) })
	if rc != 0 {
		return raster.Errorf(raster.StatusIO, "cannot rename %q to %q", from, to)
	}
	return nil
}

// upload copies a local file to an object store; the object appears only if
// the whole upload succeeds.
func upload(local, dst string) error {
	csrc, cdst := C.CString(local), C.CString(dst)
	defer C.free(unsafe.Pointer(csrc))
	defer C.free(unsafe.Pointer(cdst))
	errs := newCErrors()
	defer C.free(unsafe.Pointer(errs))
	var failed C.int
	pinned(dst, func() { failed = C.cloudioUpload(csrc, cdst, errs) })
	if failed != 0 {
		return raster.Errorf(classify(int(errs.code), raster.StatusIO), "cannot upload %q: %s", dst, C.GoString(&errs.msg[0]))
	}
	return nil
}

// gdalHasInt8: GDAL 3.7 added GDT_Int8 (set by Init).
var gdalHasInt8 bool

// gdalType is the type GDAL's calls take for buffers and bands of d: Int8
// is Byte, with PIXELTYPE=SIGNEDBYTE on the band, before GDAL 3.7.
func gdalType(d raster.DType) raster.DType {
	if d == raster.Int8 && !gdalHasInt8 {
		return raster.Byte
	}
	return d
}

// gdalConverts reports whether GDAL converts cells of type from to type to
// correctly: before GDAL 3.7 it takes signed bytes for unsigned ones.
func gdalConverts(from, to raster.DType) bool {
	return from == to || gdalHasInt8 || (from != raster.Int8 && to != raster.Int8)
}
