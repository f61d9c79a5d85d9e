package raster

import (
	"errors"
	"fmt"
	"runtime/debug"
)

// Status is an outcome of a library call; the values are the C ABI's
// CLOUDIO_* status codes.
type Status int

const (
	StatusOK              Status = 0
	StatusInvalidArgument Status = 1
	StatusNotFound        Status = 2
	StatusIO              Status = 3
	StatusUnsupported     Status = 4
	StatusCancelled       Status = 5
	StatusInternal        Status = 99
)

var statusNames = map[Status]string{
	StatusOK:              "CLOUDIO_OK",
	StatusInvalidArgument: "CLOUDIO_ERR_INVALID_ARGUMENT",
	StatusNotFound:        "CLOUDIO_ERR_NOT_FOUND",
	StatusIO:              "CLOUDIO_ERR_IO",
	StatusUnsupported:     "CLOUDIO_ERR_UNSUPPORTED",
	StatusCancelled:       "CLOUDIO_ERR_CANCELLED",
	StatusInternal:        "CLOUDIO_ERR_INTERNAL",
}

// String returns the C name of the status, "CLOUDIO_ERR_UNKNOWN" for a value
// that is not one.
func (s Status) String() string {
	if name, ok := statusNames[s]; ok {
		return name
	}
	return "CLOUDIO_ERR_UNKNOWN"
}

// Error is a failure with the status the C ABI reports for it.
type Error struct {
	Status Status
	Msg    string
}

func (e *Error) Error() string { return e.Msg }

func Errorf(status Status, format string, args ...any) error {
	return &Error{Status: status, Msg: fmt.Sprintf(format, args...)}
}

// StatusOf maps an error to its status: OK for nil, the carried status for an
// *Error, INTERNAL for anything else (an error that was never classified is
// a bug).
func StatusOf(err error) Status {
	if err == nil {
		return StatusOK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return StatusInternal
}

// Recovered is the error of an operation whose goroutine panicked: every
// goroutine the library starts recovers, so that a bug fails the operation
// instead of ending the host process.
func Recovered(p any) error {
	return Errorf(StatusInternal, "internal error (a bug in cloudio, please report it): %v\n%s", p, debug.Stack())
}

// FaultHook, when a test sets it, is called at the fault points of the
// library's goroutines (named by where), so that a test can make them panic.
var FaultHook func(where string)

func FaultPoint(where string) {
	if FaultHook != nil {
		FaultHook(where)
	}
}
