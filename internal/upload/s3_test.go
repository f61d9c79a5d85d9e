package upload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

var deflate = []string{"COMPRESS=DEFLATE", "PREDICTOR=3", "BLOCKSIZE=256", "OVERVIEW_RESAMPLING=AVERAGE"}

// download is the object at key, and how many parts it was uploaded in
// (0 for a single PUT), from its ETag.
func (m *minio) download(t *testing.T, key string) ([]byte, int) {
	t.Helper()
	out, err := m.client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("cogs"), Key: &key})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	etag := strings.Trim(aws.ToString(out.ETag), `"`)
	parts := 0
	if _, n, ok := strings.Cut(etag, "-"); ok {
		parts, _ = strconv.Atoi(n)
	}
	return b, parts
}

// checkNothingLeft fails unless the key holds want (nil: nothing) and no
// multipart upload is pending in the bucket.
func (m *minio) checkNothingLeft(t *testing.T, key string, want []byte) {
	t.Helper()
	ctx := context.Background()
	ups, err := m.client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("cogs")})
	if err != nil {
		t.Fatal(err)
	}
	if len(ups.Uploads) != 0 {
		t.Fatalf("%d multipart uploads are left, the first of %s", len(ups.Uploads), aws.ToString(ups.Uploads[0].Key))
	}
	if want != nil {
		if got, _ := m.download(t, key); string(got) != string(want) {
			t.Fatalf("%s was changed", key)
		}
		return
	}
	_, err = m.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("cogs"), Key: &key})
	var missing *types.NotFound
	if !errors.As(err, &missing) {
		t.Fatalf("%s: %v, not missing", key, err)
	}
}

func TestS3StreamsTheCOGTheEncoderWritesLocally(t *testing.T) {
	m := startMinIO(t)
	for _, c := range []struct {
		name     string
		cog      cog
		partSize int64
		parts    int // at least
	}{
		// under 5 MiB: one PUT
		{"small", cog{w: 700, h: 500, options: deflate}, 0, 0},
		// every level but the smallest ones holds full parts, the mask
		// interleaved with the imagery
		{"levels", cog{w: 2600, h: 2200, mask: true, options: []string{"COMPRESS=NONE", "BLOCKSIZE=512", "OVERVIEW_RESAMPLING=NEAREST"}}, s3MinPart, 5},
		// a compressed file of many parts (noise does not compress)
		{"many", cog{w: 3100, h: 2900, noise: true, options: deflate}, s3MinPart, 5},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := m.config(m.addr)
			cfg.PartSize, cfg.InFlight = c.partSize, 3
			sink, err := NewS3Sink(context.Background(), cfg, "cogs", "dir/"+c.name+".tif")
			got := c.cog.checkUpload(t, sink, err, c.parts, func() ([]byte, int) { return m.download(t, "dir/"+c.name+".tif") })
			m.checkNothingLeft(t, "dir/"+c.name+".tif", got)
		})
	}
}

// failingProxy forwards to MinIO but answers 503 to every upload of a part
// numbered from the nth on.
func failingProxy(t *testing.T, m *minio, nth int) (addr string, refused *atomic.Int64) {
	target, _ := url.Parse("http://" + m.addr)
	forward := httputil.NewSingleHostReverseProxy(target)
	refused = &atomic.Int64{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n, err := strconv.Atoi(r.URL.Query().Get("partNumber")); err == nil && n >= nth && r.Method == http.MethodPut {
			refused.Add(1)
			io.Copy(io.Discard, r.Body)
			http.Error(w, "the disk is on fire", http.StatusServiceUnavailable)
			return
		}
		forward.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), refused
}

// A server that fails in the middle of the upload, a cancellation, a wrong
// secret: the error says so without the secret, no upload is left pending,
// and what the key held is untouched.
func TestS3FailuresLeaveNothing(t *testing.T) {
	m := startMinIO(t)
	ctx := context.Background()
	old := []byte("the previous version")
	if _, err := m.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("cogs"), Key: aws.String("kept.tif"),
		Body: strings.NewReader(string(old))}); err != nil {
		t.Fatal(err)
	}
	big := cog{w: 2600, h: 2200, options: []string{"COMPRESS=NONE", "BLOCKSIZE=512", "OVERVIEW_RESAMPLING=NEAREST"}}
	failing, refused := failingProxy(t, m, 4)
	for _, c := range []struct {
		name, key string
		cfg       func(*S3Config)
		cog       cog
		cancel    bool
		want      string
	}{
		{"server fails", "kept.tif", func(c *S3Config) { c.Endpoint = failing }, big, false, "503"},
		{"server fails, new key", "new.tif", func(c *S3Config) { c.Endpoint = failing }, big, false, "503"},
		{"cancelled", "kept.tif", func(*S3Config) {}, big, true, "context canceled"},
		{"wrong secret", "kept.tif", func(c *S3Config) { c.SecretAccessKey = "not-the-secret-but-long" }, big, false, "SignatureDoesNotMatch"},
		{"wrong secret, one PUT", "kept.tif", func(c *S3Config) { c.SecretAccessKey = "not-the-secret-but-long" },
			cog{w: 300, h: 300, options: deflate}, false, "SignatureDoesNotMatch"},
		{"no bucket", "kept.tif", func(*S3Config) {}, big, false, "NoSuchBucket"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := m.config(m.addr)
			cfg.PartSize = s3MinPart
			c.cfg(&cfg)
			bucket := "cogs"
			if c.name == "no bucket" {
				bucket = "missing"
			}
			uctx, cancel := context.WithCancel(ctx)
			defer cancel()
			sink, err := NewS3Sink(uctx, cfg, bucket, c.key)
			c.cog.checkFailure(t, uctx, c.cancel, cancel, sink, err, c.want, minioSecret, cfg.SecretAccessKey)
			want := old
			if c.key == "new.tif" {
				want = nil
			}
			m.checkNothingLeft(t, c.key, want)
		})
	}
	if refused.Load() == 0 {
		t.Fatal("the proxy refused no part")
	}
}

// The part size makes the largest file the encoder may write fit in S3's
// 10,000 parts, every section in part numbers of its own; it is 8 MiB
// unless that is too small.
func TestS3PlansItsParts(t *testing.T) {
	for _, bounds := range [][]int64{
		{100, 5000, 3 * mib},
		{1 << 20, 1 << 24, 1 << 28, 1 << 30, 1 << 32},
		{40 << 30, 160 << 30},
		{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 << 40},
	} {
		sink, err := NewS3Sink(context.Background(), S3Config{Anonymous: true}, "b", "k")
		if err != nil {
			t.Fatal(err)
		}
		if err := sink.Start(bounds); err != nil {
			t.Fatal(err)
		}
		var total int64
		for _, b := range bounds {
			total += b
		}
		size := sink.limits.partSize
		if size%mib != 0 || size < 8*mib || (size > 8*mib && total/size < s3MaxParts*8/10) {
			t.Errorf("%v: part size %d", bounds, size)
		}
		parts := 1
		for i, b := range bounds {
			if sink.sections[i].base != parts {
				t.Errorf("%v: section %d starts at part %d, not %d", bounds, i, sink.sections[i].base, parts)
			}
			parts += 1 + int((max(0, b-s3MinPart)+size-1)/size)
		}
		if parts > s3MaxParts {
			t.Errorf("%v: parts up to %d", bounds, parts)
		}
	}
}

// An SDK's error that quotes a request or a response loses every secret of
// the sink, in every form a URL gives it.
func TestSecretsAreScrubbed(t *testing.T) {
	var s secrets
	s.add("wJalrXUtnFEMI/K7MDENG+bPxRfiCY")
	s.addSAS("?sv=2023-01-03&sig=ab%2Bcd%2Fef%3D&se=2030")
	for _, msg := range []string{
		"PUT http://h/c/b?sv=2023-01-03&sig=ab%2Bcd%2Fef%3D&se=2030: 403",
		"signature ab+cd/ef= does not match",
		"key wJalrXUtnFEMI%2FK7MDENG%2BbPxRfiCY refused",
		"key wJalrXUtnFEMI/K7MDENG+bPxRfiCY refused",
	} {
		got := s.scrub(errors.New(msg)).Error()
		if strings.Contains(got, "ab+cd") || strings.Contains(got, "ab%2Bcd") || strings.Contains(got, "K7MDENG") || !strings.Contains(got, "***") {
			t.Errorf("%q scrubbed is %q", msg, got)
		}
	}
	if !errors.Is(s.scrub(fmt.Errorf("upload: %w", context.Canceled)), context.Canceled) {
		t.Error("a scrubbed cancellation is no longer one")
	}
}

// A part held in several buffers reads, seeks and rereads as their
// concatenation, as the SDKs do to sign and retry it.
func TestBodyReadsItsBuffersAsOne(t *testing.T) {
	var want []byte
	var data [][]byte
	for i, n := range []int{3, 0, 10, 1, 0, 7} {
		b := make([]byte, n)
		for j := range b {
			b[j] = byte(i*31 + j)
		}
		data, want = append(data, b), append(want, b...)
	}
	b := newBody(data)
	for _, step := range []int{1, 2, 4, 100} {
		if _, err := b.Seek(0, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		var got []byte
		buf := make([]byte, step)
		for {
			n, err := b.Read(buf)
			got = append(got, buf[:n]...)
			if err == io.EOF {
				break
			}
		}
		if string(got) != string(want) {
			t.Fatalf("read by %d: %v, not %v", step, got, want)
		}
	}
	if end, _ := b.Seek(0, io.SeekEnd); end != int64(len(want)) {
		t.Fatalf("the end is at %d, not %d", end, len(want))
	}
	b.Seek(5, io.SeekStart)
	rest, _ := io.ReadAll(b)
	if string(rest) != string(want[5:]) {
		t.Fatal("a read after a seek differs")
	}
}
