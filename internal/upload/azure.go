package upload

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
)

// Azure's rules for block blobs (service version 2019-12-12 and later).
const (
	azureMaxBlock  = 4000 * mib
	azureMaxBlocks = 50000
)

// AzureConfig is how to reach an Azure Blob store, in the terms of GDAL's
// AZURE_* configuration options: a connection string, or an account with
// its key or a shared access signature.
type AzureConfig struct {
	ConnectionString string // AZURE_STORAGE_CONNECTION_STRING; the rest is then unused
	Account          string // AZURE_STORAGE_ACCOUNT
	Key              string // AZURE_STORAGE_ACCESS_KEY
	SAS              string // AZURE_STORAGE_SAS_TOKEN, instead of a key
	// Endpoint is the blob service's URL (CPL_AZURE_ENDPOINT), for example
	// http://127.0.0.1:10000/devstoreaccount1; empty is
	// https://ACCOUNT.blob.core.windows.net (http:// with PlainHTTP,
	// CPL_AZURE_USE_HTTPS=NO).
	Endpoint  string
	PlainHTTP bool

	// HTTPClient, when not nil, sends the requests (its timeouts are
	// GDAL_HTTP_TIMEOUT's and GDAL_HTTP_CONNECTTIMEOUT's); Retries is how
	// many times a failed request is tried again (GDAL_HTTP_MAX_RETRY).
	HTTPClient *http.Client
	Retries    int

	// Parts: PartSize (of the blocks) 0 plans it from the file's
	// largest possible size: max(8 MiB, that / 45000).
	Parts
}

// AzureSink streams a COG to a block blob: every section's full blocks are
// staged (Put Block) while they fill, the head and the last bytes of each
// section at Finish, which commits the block list (Put Block List); a file
// without a full block is one Put Blob. Until the commit the blob, or the
// one it replaces, is untouched; Abort commits nothing, and the service
// discards uncommitted blocks within a week. Block ids are unique to each
// sink, so that two uploads to one blob do not mix their blocks.
//
// Memory: for each section at most the block being filled (a part size,
// P = 8 MiB for any file up to about 350 GiB of compressed tiles' worst
// case), plus InFlight blocks uploading: a 1 GiB COG with InFlight = 4 holds under 80 MiB.
type AzureSink struct {
	*streamer
}

// NewAzureSink prepares the upload of blob name in container; nothing is
// sent before the first block is full. ctx bounds the whole upload.
func NewAzureSink(ctx context.Context, cfg AzureConfig, container, name string) (*AzureSink, error) {
	dest := "az://" + container + "/" + name
	if container == "" || name == "" {
		return nil, fmt.Errorf("%s: an Azure blob needs a container and a name", dest)
	}
	if cfg.PartSize < 0 || cfg.PartSize > azureMaxBlock {
		return nil, fmt.Errorf("%s: block size %d is not in 1..4000 MiB", dest, cfg.PartSize)
	}
	token := make([]byte, 8)
	if _, err := rand.Read(token); err != nil {
		return nil, err
	}
	b := &azureStore{blockPrefix: hex.EncodeToString(token)}
	client, err := b.connect(cfg, container, name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dest, b.secrets.scrub(err))
	}
	b.client = client
	l := limits{maxPart: azureMaxBlock, maxParts: azureMaxBlocks}
	return &AzureSink{newStreamer(ctx, b, dest, l, cfg.Parts)}, nil
}

type azureStore struct {
	client      *blockblob.Client
	blockPrefix string
	secrets     secrets
}

// connect makes the client, registering the secrets first.
func (b *azureStore) connect(cfg AzureConfig, container, name string) (*blockblob.Client, error) {
	opts := &blockblob.ClientOptions{ClientOptions: azcore.ClientOptions{Retry: policy.RetryOptions{MaxRetries: -1}}} // below 0: no retry
	if cfg.Retries > 0 {
		opts.Retry.MaxRetries = int32(cfg.Retries)
	}
	if cfg.HTTPClient != nil {
		opts.Transport = cfg.HTTPClient
	}
	if cfg.ConnectionString != "" {
		b.secrets.add(cfg.ConnectionString)
		for _, field := range strings.Split(cfg.ConnectionString, ";") {
			k, v, _ := strings.Cut(field, "=")
			switch strings.ToLower(strings.TrimSpace(k)) {
			case "accountkey":
				b.secrets.add(v)
			case "sharedaccesssignature":
				b.secrets.addSAS(v)
			}
		}
		return blockblob.NewClientFromConnectionString(cfg.ConnectionString, container, name, opts)
	}
	b.secrets.add(cfg.Key)
	b.secrets.addSAS(cfg.SAS)
	endpoint := cfg.Endpoint
	if endpoint == "" {
		if cfg.Account == "" {
			return nil, fmt.Errorf("no account, endpoint nor connection string")
		}
		scheme := "https"
		if cfg.PlainHTTP {
			scheme = "http"
		}
		endpoint = scheme + "://" + cfg.Account + ".blob.core.windows.net"
	}
	blobURL := strings.TrimSuffix(endpoint, "/") + "/" + url.PathEscape(container) + "/" + (&url.URL{Path: name}).EscapedPath()
	switch {
	case cfg.Key != "":
		cred, err := blob.NewSharedKeyCredential(cfg.Account, cfg.Key)
		if err != nil {
			return nil, err
		}
		return blockblob.NewClientWithSharedKeyCredential(blobURL, cred, opts)
	case cfg.SAS != "":
		return blockblob.NewClientWithNoCredential(blobURL+"?"+strings.TrimPrefix(cfg.SAS, "?"), opts)
	}
	return nil, fmt.Errorf("no credentials (a key, a shared access signature or a connection string)")
}

// blockID is block n's id: the same length for every block, as Azure
// requires, and this sink's own.
func (b *azureStore) blockID(n int) string {
	return base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "%s-%06d", b.blockPrefix, n))
}

func (b *azureStore) uploadPart(ctx context.Context, n int, data [][]byte) error {
	_, err := b.client.StageBlock(ctx, b.blockID(n), streaming.NopCloser(newBody(data)), nil)
	return b.secrets.scrub(err)
}

var tiffHeaders = &blob.HTTPHeaders{BlobContentType: func() *string { s := "image/tiff"; return &s }()}

func (b *azureStore) complete(ctx context.Context, order []int) error {
	ids := make([]string, len(order))
	for i, n := range order {
		ids[i] = b.blockID(n)
	}
	_, err := b.client.CommitBlockList(ctx, ids, &blockblob.CommitBlockListOptions{HTTPHeaders: tiffHeaders})
	return b.secrets.scrub(err)
}

func (b *azureStore) put(ctx context.Context, data [][]byte) error {
	_, err := b.client.Upload(ctx, streaming.NopCloser(newBody(data)), &blockblob.UploadOptions{HTTPHeaders: tiffHeaders})
	return b.secrets.scrub(err)
}

// abort has nothing to undo: staged blocks are not part of any blob.
func (b *azureStore) abort(context.Context) error { return nil }
