package main

/*
#include <stdint.h>
#include <stdlib.h>
#include "capi.h"
*/
import "C"

import (
	"encoding/json"
	"strings"

	"github.com/cloudio-dem/cloudio/internal/core"
	"github.com/cloudio-dem/cloudio/internal/raster"
)

//export capi_validate
func capi_validate(name *C.char, valid *C.int, errBuf *C.char, errLen C.size_t) (rc C.int) {
	defer contain(&rc, errBuf, errLen)
	if valid == nil {
		return status(nullArg("valid"), errBuf, errLen)
	}
	v, err := validateArgs(name, core.FullCheckAuto)
	if err != nil {
		return status(err, errBuf, errLen)
	}
	*valid = C.int(boolInt(v.Valid()))
	rc = status(nil, errBuf, errLen)
	if !v.Valid() {
		writeErr(errBuf, errLen, v.Errors[0])
	}
	return rc
}

//export capi_validate_report
func capi_validate_report(name *C.char, fullCheck C.int, valid *C.int, buf *C.char, bufLen C.size_t, needed *C.size_t,
	errBuf *C.char, errLen C.size_t) (rc C.int) {
	defer contain(&rc, errBuf, errLen)
	v, err := validateArgs(name, core.FullCheck(fullCheck))
	if err != nil {
		return status(err, errBuf, errLen)
	}
	var lines strings.Builder
	for _, e := range v.Errors {
		lines.WriteString("error: " + e + "\n")
	}
	for _, w := range v.Warnings {
		lines.WriteString("warning: " + w + "\n")
	}
	if err := textOut(lines.String(), buf, bufLen, needed, "the report"); err != nil {
		return status(err, errBuf, errLen)
	}
	if valid != nil {
		*valid = C.int(boolInt(v.Valid()))
	}
	return status(nil, errBuf, errLen)
}

// validateArgs validates name (not NULL) as check says.
func validateArgs(name *C.char, check core.FullCheck) (core.Validation, error) {
	if name == nil {
		return core.Validation{}, nullArg("name")
	}
	return core.Validate(C.GoString(name), check)
}

//export capi_info_json
func capi_info_json(name *C.char, buf *C.char, bufLen C.size_t, needed *C.size_t, errBuf *C.char, errLen C.size_t) (rc C.int) {
	defer contain(&rc, errBuf, errLen)
	if name == nil {
		return status(nullArg("name"), errBuf, errLen)
	}
	d, err := core.Describe(C.GoString(name))
	if err != nil {
		return status(err, errBuf, errLen)
	}
	text, err := json.Marshal(d)
	if err != nil {
		return status(&raster.Error{Status: raster.StatusInternal, Msg: "cannot encode the description: " + err.Error()}, errBuf, errLen)
	}
	return status(textOut(string(text), buf, bufLen, needed, "the JSON"), errBuf, errLen)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
