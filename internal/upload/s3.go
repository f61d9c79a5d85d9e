package upload

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// S3's rules for multipart uploads.
const (
	s3MinPart  = 5 * mib
	s3MaxPart  = 5 << 30
	s3MaxParts = 10000
)

// S3Config is how to reach an S3 store, in the terms of GDAL's AWS_*
// configuration options.
type S3Config struct {
	// Endpoint is host[:port] of an S3-compatible server (AWS_S3_ENDPOINT);
	// empty for AWS itself.
	Endpoint string
	Region   string // AWS_REGION; empty is us-east-1
	// PlainHTTP talks http:// instead of https:// (AWS_HTTPS=NO).
	PlainHTTP bool
	// PathStyle puts the bucket in the path rather than in the host name
	// (AWS_VIRTUAL_HOSTING=FALSE).
	PathStyle bool
	// AccessKeyID, SecretAccessKey and SessionToken sign the requests
	// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN);
	// Anonymous sends them unsigned instead (AWS_NO_SIGN_REQUEST=YES).
	AccessKeyID, SecretAccessKey, SessionToken string
	Anonymous                                  bool

	// HTTPClient, when not nil, sends the requests (its timeouts are
	// GDAL_HTTP_TIMEOUT's and GDAL_HTTP_CONNECTTIMEOUT's); Retries is how
	// many times a failed request is sent again (GDAL_HTTP_MAX_RETRY).
	HTTPClient *http.Client
	Retries    int

	// Parts: PartSize at least 5 MiB; 0 plans it from the file's
	// largest possible size: max(8 MiB, that / 9000).
	Parts
}

// S3Sink streams a COG to an S3 object with a multipart upload: the full
// parts of every section (the overview levels, the full resolution) as
// parts 2..N while they fill, the head and every section's first 5 MiB and
// last bytes, held until then, as parts of their own at Finish, which
// completes the upload; a file without a full part is one PUT. Any
// failure, the cancellation of the context, or Abort aborts the upload:
// nothing appears at the key, and no incomplete upload is left (unless
// the server cannot be reached to abort it: a bucket lifecycle rule for
// incomplete multipart uploads is then the safety net).
//
// Memory: for each section, at most its first 5 MiB and the part being
// filled (a part size, P), plus InFlight parts uploading (what is held
// is uploaded at Finish from where it lies, not copied). With P = 8 MiB (any file up to about 70 GiB of
// compressed tiles' worst case) and InFlight = 4, a 1 GiB COG holds about
// 4 large sections x 13 MiB + 6 MiB of small ones + 32 MiB in flight, under
// 100 MiB; a COG 16 times larger holds 2 sections more.
type S3Sink struct {
	*streamer
}

// NewS3Sink prepares the upload of an object to bucket/key; nothing is sent
// before the first part is full. ctx bounds the whole upload.
func NewS3Sink(ctx context.Context, cfg S3Config, bucket, key string) (*S3Sink, error) {
	name := "s3://" + bucket + "/" + key
	if bucket == "" || key == "" {
		return nil, fmt.Errorf("%s: an S3 object needs a bucket and a key", name)
	}
	if cfg.PartSize != 0 && (cfg.PartSize < s3MinPart || cfg.PartSize > s3MaxPart) {
		return nil, fmt.Errorf("%s: part size %d is not in 5 MiB..5 GiB", name, cfg.PartSize)
	}
	b := &s3Store{bucket: bucket, key: key, etags: map[int]string{}}
	b.secrets.add(cfg.SecretAccessKey, cfg.SessionToken)
	opts := s3.Options{Region: cfg.Region, UsePathStyle: cfg.PathStyle,
		// The parts are held in memory and signed; the SDK's own checksums
		// would add a header that not every S3-compatible server takes.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired}
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	switch {
	case cfg.Anonymous:
		opts.Credentials = aws.AnonymousCredentials{}
	case cfg.AccessKeyID == "" || cfg.SecretAccessKey == "":
		return nil, fmt.Errorf("%s: no credentials (an access key id and a secret access key, or anonymous access)", name)
	default:
		opts.Credentials = credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, cfg.SessionToken)
	}
	if cfg.Endpoint != "" {
		scheme := "https://"
		if cfg.PlainHTTP {
			scheme = "http://"
		}
		u, err := url.Parse(scheme + strings.TrimSuffix(cfg.Endpoint, "/"))
		if err != nil || u.Host == "" || strings.Contains(cfg.Endpoint, "://") {
			return nil, fmt.Errorf("%s: endpoint %q is not host[:port]", name, cfg.Endpoint)
		}
		opts.BaseEndpoint = aws.String(u.String())
	} else if cfg.PlainHTTP {
		opts.EndpointOptions.DisableHTTPS = true
	}
	if cfg.HTTPClient != nil {
		opts.HTTPClient = cfg.HTTPClient
	}
	opts.Retryer = aws.NopRetryer{}
	if cfg.Retries > 0 {
		opts.Retryer = retry.NewStandard(func(o *retry.StandardOptions) { o.MaxAttempts = cfg.Retries + 1 })
	}
	b.client = s3.New(opts)
	l := limits{maxPart: s3MaxPart, maxParts: s3MaxParts, holdFirst: s3MinPart}
	return &S3Sink{newStreamer(ctx, b, name, l, cfg.Parts)}, nil
}

// s3Store is one multipart upload, created with the first part.
type s3Store struct {
	client      *s3.Client
	bucket, key string
	secrets     secrets

	mu       sync.Mutex
	uploadID string
	etags    map[int]string
}

func (b *s3Store) upload(ctx context.Context) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.uploadID == "" {
		out, err := b.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &b.bucket, Key: &b.key,
			ContentType: aws.String("image/tiff")})
		if err != nil {
			return "", b.secrets.scrub(err)
		}
		b.uploadID = aws.ToString(out.UploadId)
	}
	return b.uploadID, nil
}

func (b *s3Store) uploadPart(ctx context.Context, n int, data [][]byte) error {
	id, err := b.upload(ctx)
	if err != nil {
		return err
	}
	out, err := b.client.UploadPart(ctx, &s3.UploadPartInput{Bucket: &b.bucket, Key: &b.key, UploadId: &id,
		PartNumber: aws.Int32(int32(n)), Body: newBody(data), ContentLength: aws.Int64(size(data))})
	if err != nil {
		return b.secrets.scrub(err)
	}
	b.mu.Lock()
	b.etags[n] = aws.ToString(out.ETag)
	b.mu.Unlock()
	return nil
}

func (b *s3Store) complete(ctx context.Context, order []int) error {
	parts := make([]types.CompletedPart, len(order))
	b.mu.Lock()
	for i, n := range order {
		parts[i] = types.CompletedPart{PartNumber: aws.Int32(int32(n)), ETag: aws.String(b.etags[n])}
	}
	id := b.uploadID
	b.mu.Unlock()
	_, err := b.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &b.bucket, Key: &b.key,
		UploadId: &id, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	return b.secrets.scrub(err)
}

func (b *s3Store) put(ctx context.Context, data [][]byte) error {
	_, err := b.client.PutObject(ctx, &s3.PutObjectInput{Bucket: &b.bucket, Key: &b.key, Body: newBody(data),
		ContentLength: aws.Int64(size(data)), ContentType: aws.String("image/tiff")})
	return b.secrets.scrub(err)
}

func (b *s3Store) abort(ctx context.Context) error {
	b.mu.Lock()
	id := b.uploadID
	b.mu.Unlock()
	if id == "" {
		return nil
	}
	_, err := b.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &b.bucket, Key: &b.key, UploadId: &id})
	var missing *types.NoSuchUpload
	if errors.As(err, &missing) {
		return nil
	}
	return b.secrets.scrub(err)
}
