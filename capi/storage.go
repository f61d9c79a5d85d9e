package main

/*
#include <stdint.h>
#include <stdlib.h>
#include "capi.h"
*/
import "C"

import (
	"strings"

	"github.com/cloudio-dem/cloudio/internal/storage"
)

//export capi_storage_configure
func capi_storage_configure(url *C.char, options **C.char, errBuf *C.char, errLen C.size_t) (rc C.int) {
	defer contain(&rc, errBuf, errLen)
	return configureStorage(url, options, false, errBuf, errLen)
}

//export capi_storage_replace
func capi_storage_replace(url *C.char, options **C.char, errBuf *C.char, errLen C.size_t) (rc C.int) {
	defer contain(&rc, errBuf, errLen)
	return configureStorage(url, options, true, errBuf, errLen)
}

func configureStorage(url *C.char, options **C.char, replace bool, errBuf *C.char, errLen C.size_t) C.int {
	if url == nil {
		return status(nullArg("url"), errBuf, errLen)
	}
	_, err := storage.ConfigureStorage(C.GoString(url), goStrings(options), replace)
	return status(err, errBuf, errLen)
}

//export capi_storage_list
func capi_storage_list(url *C.char, buf *C.char, bufLen C.size_t, needed *C.size_t, errBuf *C.char, errLen C.size_t) (rc C.int) {
	defer contain(&rc, errBuf, errLen)
	if url == nil {
		return status(nullArg("url"), errBuf, errLen)
	}
	names, err := storage.List(C.GoString(url))
	if err != nil {
		return status(err, errBuf, errLen)
	}
	return status(textOut(strings.Join(names, "\n"), buf, bufLen, needed, "the listing"), errBuf, errLen)
}

//export capi_storage_exists
func capi_storage_exists(url *C.char, exists *C.int, errBuf *C.char, errLen C.size_t) (rc C.int) {
	defer contain(&rc, errBuf, errLen)
	if url == nil {
		return status(nullArg("url"), errBuf, errLen)
	}
	if exists == nil {
		return status(nullArg("exists"), errBuf, errLen)
	}
	ok, err := storage.Exists(C.GoString(url))
	if err == nil {
		*exists = 0
		if ok {
			*exists = 1
		}
	}
	return status(err, errBuf, errLen)
}

//export capi_storage_delete
func capi_storage_delete(url *C.char, errBuf *C.char, errLen C.size_t) (rc C.int) {
	defer contain(&rc, errBuf, errLen)
	if url == nil {
		return status(nullArg("url"), errBuf, errLen)
	}
	return status(storage.Delete(C.GoString(url)), errBuf, errLen)
}

//export capi_storage_prefix
func capi_storage_prefix(url *C.char, writable C.int, buf *C.char, bufLen C.size_t, needed *C.size_t, errBuf *C.char, errLen C.size_t) (rc C.int) {
	defer contain(&rc, errBuf, errLen)
	if url == nil {
		return status(nullArg("url"), errBuf, errLen)
	}
	prefix, err := storage.StorePrefix(C.GoString(url), writable != 0)
	if err != nil {
		return status(err, errBuf, errLen)
	}
	return status(textOut(prefix, buf, bufLen, needed, "the prefix"), errBuf, errLen)
}

//export capi_storage_covers
func capi_storage_covers(prefix, name *C.char, covers *C.int, errBuf *C.char, errLen C.size_t) (rc C.int) {
	defer contain(&rc, errBuf, errLen)
	switch {
	case prefix == nil:
		return status(nullArg("prefix"), errBuf, errLen)
	case name == nil:
		return status(nullArg("name"), errBuf, errLen)
	case covers == nil:
		return status(nullArg("covers"), errBuf, errLen)
	}
	under, err := storage.Covers(C.GoString(prefix), C.GoString(name))
	if err == nil {
		*covers = C.int(boolInt(under))
	}
	return status(err, errBuf, errLen)
}

//export capi_secret_option
func capi_secret_option(key *C.char, secret *C.int, errBuf *C.char, errLen C.size_t) (rc C.int) {
	defer contain(&rc, errBuf, errLen)
	if key == nil {
		return status(nullArg("key"), errBuf, errLen)
	}
	if secret == nil {
		return status(nullArg("secret"), errBuf, errLen)
	}
	*secret = C.int(boolInt(storage.IsSecretOption(C.GoString(key))))
	return status(nil, errBuf, errLen)
}

//export capi_scrub
func capi_scrub(text *C.char, options **C.char, buf *C.char, bufLen C.size_t, needed *C.size_t, errBuf *C.char, errLen C.size_t) (rc C.int) {
	defer contain(&rc, errBuf, errLen)
	if text == nil {
		return status(nullArg("text"), errBuf, errLen)
	}
	scrubbed := storage.ScrubSecretsOf(C.GoString(text), goStrings(options))
	return status(textOut(scrubbed, buf, bufLen, needed, "the scrubbed text"), errBuf, errLen)
}
