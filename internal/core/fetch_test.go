package core

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudio-dem/cloudio/internal/raster"
	"github.com/cloudio-dem/cloudio/internal/storage"
)

// fetchServer serves dir on 127.0.0.1 with Range requests; fault, when it
// returns true, answers instead for the requests of cloudio's own fetcher
// (GDAL's, which open the file, are always served).
func fetchServer(t *testing.T, dir string, fault func(w http.ResponseWriter, r *http.Request) bool) string {
	t.Helper()
	files := http.FileServer(http.Dir(dir))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.UserAgent(), "Go-http-client") && fault != nil && fault(w, r) {
			return
		}
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// fetchCOG writes a 600 x 700 Float32 COG of 256 x 256 blocks into a fresh
// folder: (folder, its cells).
func fetchCOG(t *testing.T) (string, []byte) {
	t.Helper()
	dir := t.TempDir()
	data := cells(raster.Float32, 1, 600, 700, 3)
	if err := WriteCOGBuffer(data, raster.Float32, 1, 600, 700, raster.Georef{}, filepath.Join(dir, "dem.tif"),
		COGOptions{Options: []string{"BLOCKSIZE=256"}}); err != nil {
		t.Fatal(err)
	}
	return dir, data
}

// readRemote configures base with options and reads its dem.tif.
func readRemote(t *testing.T, base string, data []byte, options ...string) (error, bool) {
	t.Helper()
	if _, err := storage.ConfigureStorage(base, append([]string{"GDAL_DISABLE_READDIR_ON_OPEN=EMPTY_DIR"}, options...), true); err != nil {
		t.Fatal(err)
	}
	return readChecked(t, "/vsicurl/"+base+"/dem.tif", data)
}

// readChecked reads every 200 x 300 tile of name and checks them against
// data: the reader's error, and whether cloudio's fetcher (not GDAL's)
// fetched the blocks.
func readChecked(t *testing.T, name string, data []byte) (error, bool) {
	t.Helper()
	r, err := OpenTileReader(name, ReaderOptions{TileRows: 200, TileCols: 300})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.ds.raw == nil {
		t.Fatal("not decoded directly")
	}
	buf := make([]byte, r.BufferLen())
	for {
		tile, ok, err := r.Next(buf)
		if err != nil || !ok {
			return err, r.ds.raw.files.OwnFetcher()
		}
		if want := clampedRead(data, 4, 1, 600, 700, tile.Padded, nil); !bytes.Equal(buf[:len(want)], want) {
			t.Fatalf("tile %v differs", tile.Window)
		}
	}
}

func TestFetcherReadsRanges(t *testing.T) {
	dir, data := fetchCOG(t)
	var requests atomic.Int64
	base := fetchServer(t, dir, func(w http.ResponseWriter, r *http.Request) bool {
		requests.Add(1)
		return false
	})
	err, ours := readRemote(t, base, data)
	if err != nil || !ours || requests.Load() == 0 {
		t.Fatalf("error %v, own fetcher %v, %d requests", err, ours, requests.Load())
	}
}

// A server that ignores Range sends the whole file; the fetcher takes the
// bytes it asked for from it.
func TestFetcherServerIgnoringRanges(t *testing.T) {
	dir, data := fetchCOG(t)
	file := readFile(t, filepath.Join(dir, "dem.tif"))
	base := fetchServer(t, dir, func(w http.ResponseWriter, r *http.Request) bool {
		w.Write(file)
		return true
	})
	if err, ours := readRemote(t, base, data); err != nil || !ours {
		t.Fatalf("error %v, own fetcher %v", err, ours)
	}
}

// Throttling and server errors are retried as GDAL_HTTP_MAX_RETRY says;
// when retries run out the error names the status and the store's code.
func TestFetcherRetries(t *testing.T) {
	dir, data := fetchCOG(t)
	var failures atomic.Int64
	slowDown := func(w http.ResponseWriter, r *http.Request) bool {
		if failures.Add(-1) < 0 {
			return false
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"))
		return true
	}
	failures.Store(3)
	base := fetchServer(t, dir, slowDown)
	if err, ours := readRemote(t, base, data, "GDAL_HTTP_MAX_RETRY=3", "GDAL_HTTP_RETRY_DELAY=0.01"); err != nil || !ours {
		t.Fatalf("3 failures, 3 retries: error %v, own fetcher %v", err, ours)
	}
	if failures.Load() >= 0 {
		t.Fatalf("the server failed %d fewer requests than asked", failures.Load()+1)
	}

	failures.Store(1 << 30)
	base = fetchServer(t, dir, slowDown)
	err, _ := readRemote(t, base, data, "GDAL_HTTP_MAX_RETRY=1", "GDAL_HTTP_RETRY_DELAY=0.01")
	wantStatus(t, err, raster.StatusIO, "a server that keeps failing")
	for _, want := range []string{"HTTP 503", "SlowDown", "/vsicurl/" + base + "/dem.tif", "cannot read"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}

	var forbidden atomic.Int64 // not retried
	base = fetchServer(t, dir, func(w http.ResponseWriter, r *http.Request) bool {
		forbidden.Add(1)
		w.WriteHeader(http.StatusForbidden)
		return true
	})
	err, _ = readRemote(t, base, data, "GDAL_HTTP_MAX_RETRY=5", "GDAL_HTTP_RETRY_DELAY=0.01")
	wantStatus(t, err, raster.StatusIO, "a forbidden range")
	if !strings.Contains(err.Error(), "HTTP 403 Forbidden") {
		t.Errorf("error %q lacks the status", err)
	}
	if n := forbidden.Load(); n > int64(defaultWorkers(storage.Name{Remote: true})) {
		t.Errorf("%d requests: a 403 was retried", n)
	}
}

// A server that stops answering fails the read within GDAL_HTTP_TIMEOUT.
func TestFetcherTimeout(t *testing.T) {
	dir, data := fetchCOG(t)
	release := make(chan struct{})
	base := fetchServer(t, dir, func(w http.ResponseWriter, r *http.Request) bool {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		return true
	})
	defer close(release)
	start := time.Now()
	err, _ := readRemote(t, base, data, "GDAL_HTTP_TIMEOUT=1", "GDAL_HTTP_MAX_RETRY=0")
	wantStatus(t, err, raster.StatusIO, "a server that stops answering")
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("failed after %v, with a 1 s timeout", took)
	}
	if !strings.Contains(err.Error(), "Timeout") {
		t.Errorf("error %q does not say it timed out", err)
	}
}

// S3 ranges go to the URL GDAL signs; a refusal names the status and the
// store's code, never the signature or the secret.
func TestFetcherSignedS3URL(t *testing.T) {
	dir, data := fetchCOG(t)
	const secret = "fetch-test-secret-1f2e"
	var signed, refuse, stall atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("X-Amz-Signature") != "" {
			signed.Store(true)
			if stall.Load() {
				<-r.Context().Done()
				return
			}
			if refuse.Load() {
				w.WriteHeader(http.StatusForbidden)
				w.Write([]byte("<Error><Code>AccessDenied</Code><Message>Access Denied.</Message></Error>"))
				return
			}
		}
		f, err := os.Open(filepath.Join(dir, strings.TrimPrefix(r.URL.Path, "/bucket/")))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer f.Close()
		st, _ := f.Stat()
		http.ServeContent(w, r, "dem.tif", st.ModTime(), f)
	}))
	defer srv.Close()
	endpoint := strings.TrimPrefix(srv.URL, "http://")
	options := []string{"AWS_S3_ENDPOINT=" + endpoint, "AWS_HTTPS=NO", "AWS_VIRTUAL_HOSTING=FALSE",
		"AWS_ACCESS_KEY_ID=FETCHTEST", "AWS_SECRET_ACCESS_KEY=" + secret, "GDAL_DISABLE_READDIR_ON_OPEN=EMPTY_DIR"}
	if _, err := storage.ConfigureStorage("s3://bucket", options, true); err != nil {
		t.Fatal(err)
	}
	if err, ours := readChecked(t, "/vsis3/bucket/dem.tif", data); err != nil || !ours || !signed.Load() {
		t.Fatalf("error %v, own fetcher %v, signed requests %v", err, ours, signed.Load())
	}
	refuse.Store(true)
	err, _ := readChecked(t, "/vsis3/bucket/dem.tif", data)
	wantStatus(t, err, raster.StatusIO, "a refused signature")
	if msg := err.Error(); !strings.Contains(msg, "HTTP 403 Forbidden (AccessDenied)") ||
		strings.Contains(msg, secret) || strings.Contains(msg, "X-Amz") || strings.Contains(msg, endpoint) {
		t.Errorf("error %q", msg)
	}
	stall.Store(true) // a network error, whose Go text quotes the URL
	if _, err := storage.ConfigureStorage("s3://bucket", append(options, "GDAL_HTTP_TIMEOUT=1", "GDAL_HTTP_MAX_RETRY=0"), true); err != nil {
		t.Fatal(err)
	}
	// The open's check that the server answers finds it stalled already.
	_, err = OpenTileReader("/vsis3/bucket/dem.tif", ReaderOptions{TileRows: 200, TileCols: 300})
	wantStatus(t, err, raster.StatusIO, "a stalled server")
	if msg := err.Error(); !strings.Contains(msg, "Timeout") || strings.Contains(msg, "X-Amz") || strings.Contains(msg, secret) {
		t.Errorf("error %q", msg)
	}
}

// Options the fetcher does not implement, and proxy variables, leave the
// fetching to GDAL; so do local files.
func TestFetcherLeavesToGDAL(t *testing.T) {
	dir, data := fetchCOG(t)
	for _, option := range []string{"GDAL_HTTP_HEADERS=X-Cloudio-Test: 1", "GDAL_HTTP_USERPWD=user:password", "CPL_CURL_VERBOSE=NO"} {
		var ours atomic.Int64
		base := fetchServer(t, dir, func(w http.ResponseWriter, r *http.Request) bool {
			ours.Add(1)
			return false
		})
		if err, fetcher := readRemote(t, base, data, option); err != nil || fetcher || ours.Load() != 0 {
			t.Errorf("%s: error %v, own fetcher %v, %d own requests", option, err, fetcher, ours.Load())
		}
	}
	t.Setenv("HTTPS_PROXY", "http://127.0.0.1:9")
	base := fetchServer(t, dir, nil)
	if err, fetcher := readRemote(t, base, data); err != nil || fetcher {
		t.Errorf("with HTTPS_PROXY: error %v, own fetcher %v", err, fetcher)
	}
}
