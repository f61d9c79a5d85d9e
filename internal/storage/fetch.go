package storage

/*
#include <stdlib.h>
#include <cpl_conv.h>
#include <cpl_vsi.h>
*/
import "C"

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/cloudio-dem/cloudio/internal/raster"
)

// rangeFetcher reads byte ranges of a remote file over HTTP itself, from
// the URL GDAL builds and signs for the name (VSIGetSignedURL): credentials,
// endpoint and addressing stay GDAL's, scoped options included, while the
// bytes go from the socket straight into the decoder's buffer. GDAL's
// /vsicurl/ copies each range several times (its block cache among them),
// which cost a quarter of the CPU time of reading a COG from an object
// store. Timeouts and retries follow GDAL's options for the name; a name
// that sets any HTTP option the fetcher does not implement is read through
// GDAL instead (newRangeFetcher returns nil).
type rangeFetcher struct {
	name      string // GDAL's name for the file
	plainURL  string // the URL of a /vsicurl/ name; "" for a signed one
	client    *http.Client
	retries   int
	firstWait time.Duration // before the first retry; doubled for each next one
}

// gdalOnlyOptions change how GDAL talks HTTP in ways the fetcher does not
// reproduce (proxies, extra headers and authentication, TLS settings,
// logging of every request), so a name that sets one is read through GDAL.
var gdalOnlyOptions = []string{
	"GDAL_HTTP_PROXY", "GDAL_HTTPS_PROXY", "GDAL_HTTP_PROXYUSERPWD", "GDAL_PROXY_AUTH",
	"GDAL_HTTP_USERPWD", "GDAL_HTTP_AUTH", "GDAL_HTTP_HEADERS", "GDAL_HTTP_HEADER_FILE",
	"GDAL_HTTP_COOKIE", "GDAL_HTTP_COOKIEFILE", "GDAL_HTTP_NETRC", "GDAL_HTTP_USERAGENT",
	"GDAL_HTTP_UNSAFESSL", "GDAL_HTTP_VERSION", "GDAL_HTTP_LOW_SPEED_TIME", "GDAL_HTTP_LOW_SPEED_LIMIT",
	"GDAL_HTTP_SSLCERT", "GDAL_HTTP_SSLKEY", "GDAL_HTTP_SSL_VERIFYSTATUS",
	"GDAL_HTTP_TCP_KEEPALIVE", "CPL_CURL_VERBOSE", "AWS_REQUEST_PAYER", "CPL_VSIL_CURL_USE_HEAD",
}

// proxyVariables: curl (under GDAL) and Go read these differently (curl
// also proxies loopback), so with any of them set GDAL keeps the reads.
var proxyVariables = []string{"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"}

// newRangeFetcher returns a fetcher for name, or nil when GDAL must fetch
// its ranges: a local file, another store, an option of gdalOnlyOptions, or
// a name GDAL cannot sign a URL for.
func newRangeFetcher(name string) *rangeFetcher {
	// Only S3 and plain HTTP: MinIO checks the S3 URLs GDAL signs, whereas
	// Azurite refuses GDAL 3.6's Azure SAS URLs (AuthorizationFailure), and
	// fake-gcs-server checks no signature at all.
	if !strings.HasPrefix(name, "/vsis3/") && !strings.HasPrefix(name, "/vsicurl/") {
		return nil
	}
	return newHTTPClient(name)
}

// newHTTPClient is a fetcher for name on any store GDAL signs URLs for, or
// nil as newRangeFetcher says.
func newHTTPClient(name string) *rangeFetcher {
	for _, v := range proxyVariables {
		if os.Getenv(v) != "" {
			return nil
		}
	}
	for _, key := range gdalOnlyOptions {
		if _, set := pathOption(name, key); set {
			return nil
		}
	}
	f := &rangeFetcher{name: name}
	if rest, ok := strings.CutPrefix(name, "/vsicurl/"); ok {
		if !strings.HasPrefix(rest, "http://") && !strings.HasPrefix(rest, "https://") {
			return nil // GDAL's "/vsicurl?url=...&option=..." form
		}
		f.plainURL = rest
	} else if _, ok := f.url(); !ok {
		return nil
	}
	roots, err := caBundle(name)
	if err != nil {
		return nil // GDAL reports the bundle it cannot use
	}
	connect := secondsOption(name, "GDAL_HTTP_CONNECTTIMEOUT", 0)
	f.client = &http.Client{
		Timeout: secondsOption(name, "GDAL_HTTP_TIMEOUT", 0),
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: connect}).DialContext,
			TLSHandshakeTimeout: connect,
			TLSClientConfig:     &tls.Config{RootCAs: roots},
			MaxIdleConnsPerHost: 64,
			DisableCompression:  true, // ranges of a compressed file: gzip would only cost CPU
		},
	}
	f.retries, _ = strconv.Atoi(optionOr(name, "GDAL_HTTP_MAX_RETRY", "0"))
	f.firstWait = secondsOption(name, "GDAL_HTTP_RETRY_DELAY", 30*time.Second)
	return f
}

// caBundles: the certificate pools of the CURL_CA_BUNDLE files read so far
// (GDAL on Debian sets one), parsed once per process.
var caBundles sync.Map // path -> *x509.CertPool

// caBundle is the pool of the CA bundle GDAL's curl would trust for name
// (CURL_CA_BUNDLE); nil, for Go's system pool, when none is set.
func caBundle(name string) (*x509.CertPool, error) {
	path, ok := pathOption(name, "CURL_CA_BUNDLE")
	if !ok {
		return nil, nil
	}
	if pool, ok := caBundles.Load(path); ok {
		return pool.(*x509.CertPool), nil
	}
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no certificates in %s", path)
	}
	caBundles.Store(path, pool)
	return pool, nil
}

// url is a URL GDAL signed for the file just now (signing per request
// follows rotating credentials), or the file's own URL for /vsicurl/.
func (f *rangeFetcher) url() (string, bool) {
	if f.plainURL != "" {
		return f.plainURL, true
	}
	cname := C.CString(f.name)
	defer C.free(unsafe.Pointer(cname))
	signed := C.VSIGetSignedURL(cname, nil)
	if signed == nil {
		return "", false
	}
	defer C.CPLFree(unsafe.Pointer(signed))
	return C.GoString(signed), true
}

// fetch fills buf with the bytes at off, retrying as GDAL's options for
// the name say. Errors never carry the URL: a signed one holds a signature.
func (f *rangeFetcher) fetch(off uint64, buf []byte) error {
	wait := f.firstWait
	for attempt := 0; ; attempt++ {
		err := f.fetchOnce(off, buf)
		var temporary *retryable
		if err == nil || !errors.As(err, &temporary) || attempt >= f.retries {
			return err
		}
		time.Sleep(wait)
		wait *= 2
	}
}

// retryable marks the failures GDAL retries: throttling, server errors,
// and dropped or timed-out connections.
type retryable struct{ error }

func (r *retryable) Unwrap() error { return r.error }

var s3ErrorCode = regexp.MustCompile(`<Code>([A-Za-z]+)</Code>`)

func (f *rangeFetcher) fetchOnce(off uint64, buf []byte) error {
	u, ok := f.url()
	if !ok {
		return errors.New("GDAL could not sign a URL for it")
	}
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return errors.New("GDAL built an invalid URL for it")
	}
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, off+uint64(len(buf))-1))
	resp, err := f.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return &retryable{fmt.Errorf("HTTP request failed: %w", err)}
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusPartialContent:
	case http.StatusOK: // a server that ignores ranges sends the whole file
		if _, err := io.CopyN(io.Discard, resp.Body, int64(off)); err != nil {
			return &retryable{fmt.Errorf("response ended at byte %d: %w", off, err)}
		}
	default:
		msg := fmt.Sprintf("HTTP %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if m := s3ErrorCode.FindSubmatch(body); m != nil {
			msg += " (" + string(m[1]) + ")"
		}
		switch resp.StatusCode {
		case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
			http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return &retryable{errors.New(msg)}
		}
		return errors.New(msg)
	}
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		return &retryable{fmt.Errorf("response ended early: %w", err)}
	}
	return nil
}

// answers fails, within the name's timeout times its retries plus one,
// when the server of a remote name does not answer at all; any HTTP status
// is an answer. Calls that ask GDAL about a name check it first: GDAL 3.6
// makes several requests for one stat or listing, each waiting its full
// timeout, so a frozen server would hold them several timeouts long. For a
// name GDAL alone can reach (another store, GDAL-only HTTP options), nil.
func Answers(name string) error {
	f := newHTTPClient(name)
	if f == nil {
		return nil
	}
	defer f.close()
	wait := f.firstWait
	for attempt := 0; ; attempt++ {
		err := f.ping()
		if err == nil {
			return nil
		}
		if attempt >= f.retries {
			return raster.Errorf(raster.StatusIO, "no answer from the server of %q (unreachable, or it timed out): %v", name, err)
		}
		time.Sleep(wait)
		wait *= 2
	}
}

// ping asks for the first byte of the file, whatever the answer.
func (f *rangeFetcher) ping() error {
	u, ok := f.url()
	if !ok {
		return nil // GDAL reports what it cannot sign
	}
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return nil
	}
	req.Header.Set("Range", "bytes=0-0")
	req.Header.Set("User-Agent", "cloudio/"+raster.Version+" (does the server answer?)")
	resp, err := f.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL: a signed one holds a signature
		}
		return err
	}
	resp.Body.Close()
	return nil
}

// close lets go of the idle connections.
func (f *rangeFetcher) close() {
	if f != nil {
		f.client.CloseIdleConnections()
	}
}

// pathOption is GDAL's value of key for name: scoped to a prefix of it
// (VSISetPathSpecificOption), else the global configuration.
func pathOption(name, key string) (string, bool) {
	cname, ckey := C.CString(name), C.CString(key)
	defer C.free(unsafe.Pointer(cname))
	defer C.free(unsafe.Pointer(ckey))
	v := C.VSIGetPathSpecificOption(cname, ckey, nil)
	if v == nil {
		return "", false
	}
	return C.GoString(v), true
}

func optionOr(name, key, fallback string) string {
	if v, ok := pathOption(name, key); ok {
		return v
	}
	return fallback
}

// secondsOption reads a GDAL option in (fractional) seconds; 0 means none.
func secondsOption(name, key string, fallback time.Duration) time.Duration {
	v, ok := pathOption(name, key)
	if !ok {
		return fallback
	}
	s, err := strconv.ParseFloat(v, 64)
	if err != nil || s <= 0 {
		return fallback
	}
	return time.Duration(s * float64(time.Second))
}
