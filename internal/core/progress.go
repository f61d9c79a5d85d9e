package core

/*
#include <stdlib.h>
*/
import "C"

import (
	"fmt"
	"unsafe"

	pointer "github.com/mattn/go-pointer"

	"github.com/cloudio-dem/cloudio/internal/raster"
)

// ProgressFunc receives a fraction in [0, 1] and a message, and returns false
// to cancel.
type ProgressFunc func(fraction float64, message string) bool

// progressState carries a ProgressFunc through GDAL's C callback.
type progressState struct {
	fn        ProgressFunc
	cancelled bool
	panicked  any
}

// cHandle returns an opaque pointer for GDAL's callback, and a release
// function; a nil ProgressFunc gives a nil pointer.
func (p *progressState) cHandle() (unsafe.Pointer, func()) {
	if p.fn == nil {
		return nil, func() {}
	}
	h := pointer.Save(p)
	return h, func() { pointer.Unref(h) }
}

// err reports a cancellation, or a panic raised inside the callback.
func (p *progressState) err() error {
	if p.panicked != nil {
		return raster.Errorf(raster.StatusInternal, "progress callback panicked: %v", p.panicked)
	}
	if p.cancelled {
		return raster.Errorf(raster.StatusCancelled, "cancelled by the progress callback")
	}
	return nil
}

// call reports progress to fn and returns whether to go on. A panic in fn
// is recorded and cancels: it must not unwind through GDAL's C frames.
func (p *progressState) call(fraction float64, message string) (goOn bool) {
	defer func() {
		if r := recover(); r != nil {
			p.panicked = fmt.Sprint(r)
			goOn = false
		}
	}()
	if p.fn(fraction, message) {
		return true
	}
	p.cancelled = true
	return false
}

//export cloudioGoProgress
func cloudioGoProgress(fraction C.double, message *C.char, user unsafe.Pointer) C.int {
	p, ok := pointer.Restore(user).(*progressState)
	if !ok {
		return 1
	}
	msg := ""
	if message != nil {
		msg = C.GoString(message)
	}
	if p.call(float64(fraction), msg) {
		return 1
	}
	return 0
}
