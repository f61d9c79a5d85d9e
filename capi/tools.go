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
)

//export cloudio_validate
func cloudio_validate(name *C.char, valid *C.int, errBuf *C.char, errLen C.size_t) (rc C.int) {
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

//export cloudio_validate_report
func cloudio_validate_report(name *C.char, fullCheck C.int, valid *C.int, buf *C.char, bufLen C.size_t, needed *C.size_t,
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
	if err := putText(lines.String(), "report", buf, bufLen, needed); err != nil {
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

//export cloudio_info_json
func cloudio_info_json(name *C.char, buf *C.char, bufLen C.size_t, needed *C.size_t, errBuf *C.char, errLen C.size_t) (rc C.int) {
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
		return status(&core.Error{Status: core.StatusInternal, Msg: "cannot encode the description: " + err.Error()}, errBuf, errLen)
	}
	return status(putText(string(text), "JSON", buf, bufLen, needed), errBuf, errLen)
}

// putText hands text to a caller buffer as the header's size-query
// convention says: *needed (when not NULL) gets its size with the NUL; a
// NULL buf or a buf_len of 0 receives nothing; a shorter buf is an error.
func putText(text, what string, buf *C.char, bufLen C.size_t, needed *C.size_t) error {
	if needed != nil {
		*needed = C.size_t(len(text) + 1)
	}
	if buf == nil || bufLen == 0 {
		return nil
	}
	if C.size_t(len(text)) >= bufLen {
		return &core.Error{Status: core.StatusInvalidArgument, Msg: "buffer too small for the " + what + ": see *needed"}
	}
	writeErr(buf, bufLen, text)
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
