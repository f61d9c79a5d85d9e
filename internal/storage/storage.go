package storage

/*
#include <stdlib.h>
#include <cpl_string.h>
#include "vsi.h"
*/
import "C"

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"unsafe"

	"github.com/cloudio-dem/cloudio/internal/gdalc"
	"github.com/cloudio-dem/cloudio/internal/raster"
)

// StorageDefaults bound how long a request to an unreachable or failing
// endpoint can take; a caller's options override them.
var StorageDefaults = []raster.Option{
	{Key: "GDAL_HTTP_CONNECTTIMEOUT", Value: "10"},
	{Key: "GDAL_HTTP_TIMEOUT", Value: "60"},
	{Key: "GDAL_HTTP_MAX_RETRY", Value: "2"},
	{Key: "GDAL_HTTP_RETRY_DELAY", Value: "0.5"},
	// Writing a COG (random access) to an object store goes through a local
	// temporary file on GDAL 3.6.
	{Key: "CPL_VSIL_USE_TEMP_FILE_FOR_RANDOM_WRITE", Value: "YES"},
}

// configured holds the options ConfigureStorage set, by GDAL prefix.
var configured struct {
	mu      sync.Mutex
	options map[string][]raster.Option
}

// ConfigureStorage scopes GDAL configuration options (credentials, endpoint,
// timeouts) to every name under url's prefix, with VSISetPathSpecificOption:
// two prefixes with different credentials work side by side, and nothing
// reaches GDAL's global configuration. It returns the GDAL prefix.
//
// Configuring a prefix again with the same options does nothing; with
// other options it is an error unless replace is set, because every store
// of the prefix would silently use the new ones. Nested prefixes follow
// GDAL's rule: for each option, the longest configured prefix of a name
// that sets it wins, and options it does not set come from shorter ones.
func ConfigureStorage(url string, options []string, replace bool) (string, error) {
	gdalc.Init()
	prefix, err := storeName(url, false)
	if err != nil {
		return "", err
	}
	opts, err := raster.ParseOptions(options)
	if err != nil {
		return "", err
	}
	merged := append([]raster.Option(nil), StorageDefaults...)
	for _, o := range opts {
		merged = raster.SetOption(merged, o)
	}
	configured.mu.Lock()
	defer configured.mu.Unlock()
	if earlier, ok := configured.options[prefix]; ok {
		differ := differingKeys(earlier, merged)
		if len(differ) == 0 {
			return prefix, nil
		}
		if !replace {
			return "", raster.Errorf(raster.StatusInvalidArgument, "storage prefix %q is already configured, with other values for %s: every store of the prefix shares one set of options, so replace them explicitly (replace=True in Python, cloudio_storage_replace in C) or use another prefix",
				url, strings.Join(differ, ", "))
		}
	}
	cprefix := C.CString(prefix)
	defer C.free(unsafe.Pointer(cprefix))
	C.cloudioClearPathOptions(cprefix)
	for _, o := range merged {
		ck, cv := C.CString(o.Key), C.CString(o.Value)
		C.cloudioSetPathOption(cprefix, ck, cv)
		C.free(unsafe.Pointer(ck))
		C.free(unsafe.Pointer(cv))
	}
	if configured.options == nil {
		configured.options = map[string][]raster.Option{}
	}
	configured.options[prefix] = merged
	return prefix, nil
}

// StorePrefix is url as the prefix of a store, the one form every caller
// builds on: checked (an object store, HTTP or a /vsi... name; when
// writable, one that can be written, so HTTP is refused at once) and ending
// in one "/", so that a key joins it as prefix+key and "s3://dems/" never
// covers "s3://dems2/...".
func StorePrefix(url string, writable bool) (string, error) {
	if _, err := storeName(url, writable); err != nil {
		return "", err
	}
	if strings.HasSuffix(url, "/") {
		return url, nil
	}
	return url + "/", nil
}

// Covers reports whether name (a path, URL, GDAL name, or the store of a
// Zarr array's ZARR:"url":/array) lies under the store prefix: the prefix
// itself, or a name below it, whatever scheme spelling either uses.
func Covers(prefix, name string) (bool, error) {
	store, err := storeName(prefix, false)
	if err != nil {
		return false, err
	}
	under := StoreOf(GDALName(name))
	return under == store || strings.HasPrefix(under, store+"/"), nil
}

// storeName is the GDAL name of the store at url without a trailing "/":
// GDAL matches path-specific options by prefix, and a bucket's own listing
// request names it without the slash.
func storeName(url string, writable bool) (string, error) {
	mapName := InputName
	if writable {
		mapName = OutputName
	}
	name, err := mapName("storage URL", url)
	if err != nil {
		return "", err
	}
	if !IsVSI(name) {
		return "", raster.Errorf(raster.StatusInvalidArgument, "storage URL %q is not an object store or HTTP URL (s3://, gs://, az://, http(s)://, or a /vsi... prefix)", url)
	}
	return strings.TrimSuffix(name, "/"), nil
}

// differingKeys names the options set in a or b with different values (or
// in one only), sorted; never the values, which may be secrets.
func differingKeys(a, b []raster.Option) []string {
	values := map[string][2]*string{}
	for i := range a {
		v := values[a[i].Key]
		v[0] = &a[i].Value
		values[a[i].Key] = v
	}
	for i := range b {
		v := values[b[i].Key]
		v[1] = &b[i].Value
		values[b[i].Key] = v
	}
	var differ []string
	for k, v := range values {
		if v[0] == nil || v[1] == nil || *v[0] != *v[1] {
			differ = append(differ, k)
		}
	}
	sort.Strings(differ)
	return differ
}

// List returns the names under url (relative to it), sorted; recursively for
// object stores, where "directories" are only key prefixes.
func List(url string) ([]string, error) {
	gdalc.Init()
	name, err := InputName("URL", url)
	if err != nil {
		return nil, err
	}
	if err := Answers(name); err != nil {
		return nil, err
	}
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var list **C.char
	recursive := IsObjectStore(name)
	r := vsiCall(name, func(errs *C.cloudioErrors) { list = C.cloudioList(cname, C.int(gdalc.CBool(recursive)), errs) })
	defer C.CSLDestroy(list)
	if r.Failed {
		return nil, r.Err(fmt.Sprintf("cannot list %q", url), raster.StatusIO)
	}
	if list == nil {
		if err := prefixError(emptyListing(name, recursive, r), strings.TrimSuffix(name, "/"), false); err != nil {
			return nil, raster.Errorf(raster.StatusOf(err), "cannot list %q: %s", url, err.Error())
		}
	}
	var out []string
	for p := list; p != nil && *p != nil; p = (**C.char)(unsafe.Add(unsafe.Pointer(p), unsafe.Sizeof(p))) {
		n := C.GoString(*p)
		if n != "." && n != ".." && !strings.HasSuffix(n, "/") {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Exists reports whether url names an existing file or object, or a bucket
// or container these credentials can list; a server that refuses the
// credentials or does not answer is an error.
func Exists(url string) (bool, error) {
	gdalc.Init()
	name, err := InputName("URL", url)
	if err != nil {
		return false, err
	}
	if err := Answers(name); err != nil {
		return false, err
	}
	if IsObjectStore(name) && (bucketOf(name) == strings.TrimSuffix(name, "/") || strings.HasSuffix(name, "/")) {
		// A bucket, container or prefix of one (a store's root): listed
		// with its own scoped options, where a stat of a bare Azure
		// container lists the account with those of "/vsiaz/", and a stat
		// of a prefix with no objects yet finds nothing.
		switch err := checkPrefix(strings.TrimSuffix(name, "/"), false); {
		case err == nil:
			return true, nil
		case raster.StatusOf(err) == raster.StatusNotFound:
			return false, nil
		default:
			return false, err
		}
	}
	if found, err := StatFresh(name); found || err != nil {
		return found, err
	}
	return false, Unreachable(name)
}

// Delete removes one file or object.
func Delete(url string) error {
	gdalc.Init()
	name, err := OutputName("URL", url)
	if err != nil {
		return err
	}
	if err := Answers(name); err != nil {
		return err
	}
	found, err := StatFresh(name)
	if err != nil {
		return err
	}
	if !found {
		if IsObjectStore(name) {
			// Refused credentials look like a missing object to a stat.
			if err := checkPrefix(parentOf(name), false); err != nil {
				return err
			}
		}
		return raster.Errorf(raster.StatusNotFound, "%q does not exist", url)
	}
	return unlink(name, url)
}

// emptyListing is the state of prefix, whose listing r found nothing in:
// an object store's empty prefix, or a local directory, lists as nothing;
// a stat of a prefix could answer from what GDAL cached about its bucket,
// so it is probed anew.
func emptyListing(prefix string, recursive bool, r gdalc.Report) listState {
	switch {
	case r.NoAnswer():
		return listNoAnswer
	case !recursive && PathExists(prefix):
		return listOK
	}
	return canList(prefix)
}
