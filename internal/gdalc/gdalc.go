// Package gdalc is how cloudio's Go and C code share GDAL's C API: GDAL's
// process-wide set-up (Init), the error convention of every C helper (the
// per-call error context of gdalc.h, filled in C with what GDAL raised) and
// the one classification of those failures into the C ABI's status codes,
// and the C string lists the helpers take. It does not import godal, so
// that the TIFF decoder may use it too.
package gdalc

/*
#cgo pkg-config: gdal
#include <stdlib.h>
#include <cpl_conv.h>
#include <gdal.h>
#include "gdalc.h"
*/
import "C"

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/cloudio-dem/cloudio/internal/raster"
)

// DefaultCacheMax bounds GDAL's block cache (GDAL's own default is 5% of RAM,
// over a gigabyte on a large machine) unless the user set GDAL_CACHEMAX.
const DefaultCacheMax = "32MB"

var initOnce sync.Once

// hasInt8: GDAL 3.7 added GDT_Int8 (set by Init).
var hasInt8 bool

// Init registers GDAL's drivers and bounds its block cache. Every entry point
// calls it; only the first call does anything.
func Init() {
	initOnce.Do(func() {
		C.GDALAllRegister()
		cv := C.CString("VERSION_NUM")
		version, _ := strconv.Atoi(C.GoString(C.GDALVersionInfo(cv))) // 3060200 for 3.6.2
		C.free(unsafe.Pointer(cv))
		hasInt8 = version >= 3070000
		if os.Getenv("GDAL_CACHEMAX") == "" {
			SetConfig("GDAL_CACHEMAX", DefaultCacheMax)
		}
		// A test hook for the C and Python tests: a panic at one fault point
		// (see raster.FaultPoint), which must come back as the operation's
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

// HasInt8 reports whether GDAL has GDT_Int8 (GDAL 3.7 and later); Init
// must have run.
func HasInt8() bool { return hasInt8 }

// SetConfig sets a process-wide GDAL configuration option; godal has no call
// for it.
func SetConfig(key, value string) {
	ck, cv := C.CString(key), C.CString(value)
	defer C.free(unsafe.Pointer(ck))
	defer C.free(unsafe.Pointer(cv))
	C.CPLSetConfigOption(ck, cv)
}

// CPLE error numbers (cpl_error.h) used to classify GDAL failures.
const (
	cpleIllegalArg        = 5
	cpleNotSupported      = 6
	cpleUserInterrupt     = 9
	cpleAWSBucketNotFound = 12
	cpleAWSObjectNotFound = 13
)

// VSIE error numbers (cpl_vsi_error.h) of object stores.
const (
	VSIEAWSAccessDenied          = C.VSIE_AWSAccessDenied
	VSIEAWSBucketNotFound        = C.VSIE_AWSBucketNotFound
	VSIEAWSObjectNotFound        = C.VSIE_AWSObjectNotFound
	VSIEAWSInvalidCredentials    = C.VSIE_AWSInvalidCredentials
	VSIEAWSSignatureDoesNotMatch = C.VSIE_AWSSignatureDoesNotMatch
)

// Errors is the context one C helper call fills (a cloudioErrors), in C
// memory: C code writes only C memory, which valgrind tracks (make
// test-c), and never Go's, whose stacks and heap it cannot.
type Errors struct{ c *C.cloudioErrors }

// NewErrors is a zeroed context; Free it after the call.
func NewErrors() *Errors {
	return &Errors{(*C.cloudioErrors)(C.calloc(1, C.size_t(unsafe.Sizeof(C.cloudioErrors{}))))}
}

// C is the context to pass to a helper (as its cloudioErrors *).
func (e *Errors) C() unsafe.Pointer { return unsafe.Pointer(e.c) }

// Free releases the context.
func (e *Errors) Free() { C.free(unsafe.Pointer(e.c)) }

// Failed reports whether a failure was recorded.
func (e *Errors) Failed() bool { return e.c.failed != 0 }

// Report is what the helper collected, as Go values.
func (e *Errors) Report() Report {
	r := Report{Failed: e.Failed(), Code: int(e.c.code), Warning: C.GoString(&e.c.warning[0]),
		VSICode: int(e.c.vsi_code), VSIMsg: C.GoString(&e.c.vsi_msg[0])}
	if msg := C.GoString(&e.c.msg[0]); msg != "" {
		r.Msgs = []string{msg}
	}
	return r
}

// Err is Report().Err(context, fallback), nil when no failure was recorded.
func (e *Errors) Err(context string, fallback raster.Status) error {
	if !e.Failed() {
		return nil
	}
	return e.Report().Err(context, fallback)
}

// Report is what GDAL raised during one call: by a C helper (Errors) or
// through godal's error handler.
type Report struct {
	Failed  bool
	Code    int      // the CPLE number of the first failure
	Msgs    []string // the failures' messages
	Warning string   // the last warning: GDAL reports HTTP failures (403, ...) only so
	VSICode int      // the virtual file system's last error (a VSIE number; C helpers only)
	VSIMsg  string   // ... and its message
}

// Err is the failure as an *Error with the status fallback, refined by the
// CPLE number of the first failure and by a refusal of the credentials.
func (r Report) Err(context string, fallback raster.Status) error {
	msg := strings.Join(r.Msgs, "; ")
	if r.Warning != "" {
		msg += " (GDAL warned: " + r.Warning + ")"
	}
	if msg == "" {
		return raster.Errorf(fallback, "%s", context)
	}
	status := classify(r.Code, fallback)
	if deniedAccess(msg) {
		status = raster.StatusIO // the object may well exist: these credentials may not see it
	}
	return raster.Errorf(status, "%s: %s", context, strings.TrimPrefix(msg, " "))
}

// Said is what GDAL said: the failures' messages, or else the last warning.
func (r Report) Said() string {
	if len(r.Msgs) > 0 {
		return strings.Join(r.Msgs, "; ")
	}
	return r.Warning
}

// NoAnswer reports whether GDAL said that a server did not answer: curl's
// failure, or the status 0 GDAL 3.6 reports for a connection that failed or
// timed out.
func (r Report) NoAnswer() bool {
	for _, m := range append([]string{r.Warning, r.VSIMsg}, r.Msgs...) {
		if strings.Contains(m, "CURL error") || (len(m) > 3 && strings.HasSuffix(m, ": 0")) {
			return true
		}
	}
	return false
}

// DeniedStatus recognises the HTTP status of refused credentials in a
// message of GDAL's.
func DeniedStatus(msg string) bool {
	return strings.Contains(msg, ": 403") || strings.Contains(msg, ": 401")
}

// deniedAccess recognises an object store refusing the credentials, by its
// HTTP status or its own words.
func deniedAccess(msg string) bool {
	if DeniedStatus(msg) {
		return true
	}
	for _, s := range []string{"signature we calculated does not match", "Access Denied", "AccessDenied", "InvalidAccessKeyId"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
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

// CBool is b as a C truth value.
func CBool(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Strings is a NULL-terminated C array of C strings.
type Strings []*C.char

// NewStrings copies in into C memory; Free it after the call.
func NewStrings(in []string) Strings {
	out := make(Strings, len(in)+1)
	for i, s := range in {
		out[i] = C.CString(s)
	}
	return out
}

// Free releases the strings.
func (c Strings) Free() {
	for _, p := range c {
		C.free(unsafe.Pointer(p))
	}
}

// C is the array to pass to a helper (as its char **).
func (c Strings) C() unsafe.Pointer { return unsafe.Pointer(&c[0]) }
