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
			faultHook = func(at string) {
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

// err returns the collected failures as an *Error with the status fallback,
// refined by the CPLE number of the first failure; nil when none was raised
// and call succeeded.
func (g *gdalErrors) err(context string, fallback Status) error {
	msg := strings.Join(g.msgs, "; ")
	if g.warning != "" {
		msg += " (GDAL warned: " + g.warning + ")"
	}
	if msg == "" {
		return errorf(fallback, "%s", context)
	}
	status := classify(g.code, fallback)
	if deniedAccess(msg) {
		status = StatusIO // the object may well exist: these credentials may not see it
	}
	return errorf(status, "%s: %s", context, strings.TrimPrefix(msg, " "))
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

func classify(code int, fallback Status) Status {
	switch code {
	case cpleUserInterrupt:
		return StatusCancelled
	case cpleIllegalArg:
		return StatusInvalidArgument
	case cpleNotSupported:
		return StatusUnsupported
	case cpleAWSBucketNotFound, cpleAWSObjectNotFound:
		return StatusNotFound
	}
	return fallback
}

// pinned runs fn with name's store options that GDAL 3.6 reads only from
// the global or the calling thread's configuration (its HTTP timeouts and
// retries) set for this thread: fn's GDAL calls must run on it.
func pinned(name string, fn func()) {
	if !isVSI(name) { // no store options for local files
		fn()
		return
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cname := C.CString(name)
	saved := C.cloudioPinOptions(cname)
	C.free(unsafe.Pointer(cname))
	defer C.cloudioUnpinOptions(saved)
	fn()
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

// checkContainer fails unless an object store's bucket or container
// (bucketOf's answer) exists and these credentials can list it.
func checkContainer(bucket string) error {
	cname := C.CString(bucket)
	defer C.free(unsafe.Pointer(cname))
	var state C.int
	pinned(bucket, func() { state = C.cloudioCanList(cname) })
	switch state {
	case C.CLOUDIO_LIST_OK:
		return nil
	case C.CLOUDIO_LIST_REFUSED:
		return errorf(StatusIO, "the server refused these credentials for bucket or container %q", bucket)
	case C.CLOUDIO_LIST_NO_ANSWER:
		return errorf(StatusIO, "no answer from the server of bucket or container %q (unreachable, or it timed out)", bucket)
	}
	return errorf(StatusNotFound, "bucket or container %q does not exist (or these credentials cannot see it)", bucket)
}

// unreachable is, for a name a stat did not find, the error of its bucket's
// server refusing the credentials or not answering: a failed stat cannot
// tell those from a missing object. nil when the object is just missing.
func unreachable(name string) error {
	if !isObjectStore(name) {
		return nil
	}
	if err := checkContainer(bucketOf(name)); StatusOf(err) == StatusIO {
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
		return errorf(StatusIO, "cannot rename %q to %q", from, to)
	}
	return nil
}

// upload copies a local file to an object store; the object appears only if
// the whole upload succeeds.
func upload(local, dst string) error {
	csrc, cdst := C.CString(local), C.CString(dst)
	defer C.free(unsafe.Pointer(csrc))
	defer C.free(unsafe.Pointer(cdst))
	var errs C.cloudioErrors
	var failed C.int
	pinned(dst, func() { failed = C.cloudioUpload(csrc, cdst, &errs) })
	if failed != 0 {
		return errorf(classify(int(errs.code), StatusIO), "cannot upload %q: %s", dst, C.GoString(&errs.msg[0]))
	}
	return nil
}
