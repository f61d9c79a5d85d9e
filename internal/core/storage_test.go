package core

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudio-dem/cloudio/internal/raster"
	"github.com/cloudio-dem/cloudio/internal/storage"
)

// GDAL 3.6 reads its HTTP timeouts only from the global or the thread's
// configuration: a store's own reach GDAL's calls (pinned), so a server that
// takes connections and never answers fails every call soon, as an IO error
// (not a missing object).
func TestStoreTimeoutsReachGDAL(t *testing.T) {
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	if _, err := storage.ConfigureStorage("s3://silent", []string{"AWS_S3_ENDPOINT=" + silent.Addr().String(), "AWS_HTTPS=NO",
		"AWS_VIRTUAL_HOSTING=FALSE", "AWS_ACCESS_KEY_ID=id", "AWS_SECRET_ACCESS_KEY=secret-for-the-silent-test",
		"GDAL_HTTP_TIMEOUT=1", "GDAL_HTTP_MAX_RETRY=0"}, true); err != nil {
		t.Fatal(err)
	}
	for what, call := range map[string]func() error{
		"list":          func() error { _, err := storage.List("s3://silent/"); return err },
		"object exists": func() error { _, err := storage.Exists("s3://silent/dem.tif"); return err },
		"bucket exists": func() error { _, err := storage.Exists("s3://silent"); return err },
		"open":          func() error { _, err := OpenDataset("s3://silent/dem.tif"); return err },
		"delete":        func() error { return storage.Delete("s3://silent/dem.tif") },
	} {
		start := time.Now()
		err := call()
		wantStatus(t, err, raster.StatusIO, what)
		if took := time.Since(start); took > 15*time.Second {
			t.Errorf("%s: failed after %v, with a 1 s timeout", what, took)
		}
		if strings.Contains(err.Error(), "secret-for-the-silent-test") {
			t.Errorf("%s: %v", what, err)
		}
	}
}

// fakeS3 is an S3 endpoint on 127.0.0.1 for prefix: every bucket lists as
// empty, no object exists until PUT (single part, no signature checks), and
// each PUT is recorded, by path, in the order the uploads completed. delay
// holds a PUT back before it completes.
type fakeS3 struct {
	mu      sync.Mutex
	objects map[string][]byte
	order   []string
	delay   func(path string) time.Duration
}

func newFakeS3(t *testing.T, prefix string) *fakeS3 {
	t.Helper()
	f := &fakeS3{objects: map[string][]byte{}, delay: func(string) time.Duration { return 0 }}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPut:
			body, _ := io.ReadAll(r.Body)
			time.Sleep(f.delay(r.URL.Path))
			f.mu.Lock()
			f.objects[r.URL.Path] = body
			f.order = append(f.order, r.URL.Path)
			f.mu.Unlock()
			w.Header().Set("ETag", `"e"`)
		case r.Method == http.MethodGet && (r.URL.Query().Has("delimiter") || r.URL.Query().Has("prefix") || r.URL.Query().Has("list-type")):
			bucket, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
			fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>%s</Name><Prefix>%s</Prefix>`+
				`<KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys><Delimiter>/</Delimiter><IsTruncated>false</IsTruncated></ListBucketResult>`,
				bucket, r.URL.Query().Get("prefix"))
		default:
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>`)
		}
	}))
	t.Cleanup(srv.Close)
	if _, err := storage.ConfigureStorage(prefix, []string{"AWS_S3_ENDPOINT=" + strings.TrimPrefix(srv.URL, "http://"), "AWS_HTTPS=NO",
		"AWS_VIRTUAL_HOSTING=FALSE", "AWS_ACCESS_KEY_ID=id", "AWS_SECRET_ACCESS_KEY=secret"}, true); err != nil {
		t.Fatal(err)
	}
	return f
}

// uploads is the paths PUT so far, in the order they completed.
func (f *fakeS3) uploads() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.order...)
}

func (f *fakeS3) object(path string) ([]byte, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.objects[path]
	return b, ok
}

// The upload loop tells the end of the file from a read error: a source it
// cannot read is an error and nothing is published, where a complete one is
// uploaded as it is.
func TestUploadPublishesOnlyWhatItReadWhole(t *testing.T) {
	s3 := newFakeS3(t, "s3://upload-test")
	file := filepath.Join(t.TempDir(), "whole.tif")
	if err := os.WriteFile(file, []byte("all of it"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := storage.Upload(file, "/vsis3/upload-test/whole.tif"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s3.object("/upload-test/whole.tif"); string(got) != "all of it" {
		t.Fatalf("a whole file: %q", got)
	}
	err := storage.Upload(t.TempDir(), "/vsis3/upload-test/unreadable.tif") // a directory: open works, reads fail
	wantStatus(t, err, raster.StatusIO, "an unreadable source")
	if _, published := s3.object("/upload-test/unreadable.tif"); published || !strings.Contains(fmt.Sprint(err), "nothing was uploaded") {
		t.Fatalf("an unreadable source: published %v, error %v", published, err)
	}
}
