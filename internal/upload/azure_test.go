package upload

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"
)

// blob is what blob name holds (nil: nothing) and how many committed
// blocks it has.
func (a *azurite) blob(t *testing.T, name string) ([]byte, int) {
	t.Helper()
	ctx := context.Background()
	b := a.cogs.NewBlockBlobClient(name)
	resp, err := b.DownloadStream(ctx, nil)
	if bloberror.HasCode(err, bloberror.BlobNotFound) {
		return nil, 0
	}
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	list, err := b.GetBlockList(ctx, blockblob.BlockListTypeCommitted, nil)
	if err != nil {
		t.Fatal(err)
	}
	return data, len(list.CommittedBlocks)
}

func TestAzureStreamsTheCOGTheEncoderWritesLocally(t *testing.T) {
	a := startAzurite(t)
	cred, err := sas.BlobSignatureValues{Protocol: sas.ProtocolHTTPSandHTTP, ExpiryTime: time.Now().Add(time.Hour),
		ContainerName: "cogs", Permissions: (&sas.ContainerPermissions{Read: true, Write: true, Create: true}).String()}.
		SignWithSharedKey(mustKey(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		cog      cog
		cfg      AzureConfig
		partSize int64
		blocks   int // at least; 0: a single Put Blob
	}{
		// under a block: one Put Blob
		{"small", cog{w: 700, h: 500, options: deflate}, a.config(), 0, 0},
		{"levels", cog{w: 2600, h: 2200, mask: true, options: []string{"COMPRESS=NONE", "BLOCKSIZE=512",
			"OVERVIEW_RESAMPLING=NEAREST"}}, a.config(), 2 * mib, 12},
		{"sas", cog{w: 3100, h: 2900, noise: true, options: deflate},
			AzureConfig{Endpoint: a.endpoint, SAS: cred.Encode()}, 3 * mib, 12},
		{"connection string", cog{w: 1200, h: 900, options: deflate}, AzureConfig{ConnectionString: "DefaultEndpointsProtocol=http;" +
			"AccountName=" + azureAccount + ";AccountKey=" + azureKey + ";BlobEndpoint=" + a.endpoint + ";"}, 1 * mib, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.cfg.PartSize, c.cfg.InFlight = c.partSize, 3
			sink, err := NewAzureSink(context.Background(), c.cfg, "cogs", "dir/"+c.name+".tif")
			c.cog.checkUpload(t, sink, err, c.blocks, func() ([]byte, int) { return a.blob(t, "dir/"+c.name+".tif") })
		})
	}
}

func mustKey(t *testing.T) *sas.SharedKeyCredential {
	k, err := blob.NewSharedKeyCredential(azureAccount, azureKey)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// A cancellation or a wrong key commits nothing: the blob stays what it
// was, and the error does not show the key.
func TestAzureFailuresCommitNothing(t *testing.T) {
	a := startAzurite(t)
	ctx := context.Background()
	old := []byte("the previous version")
	if _, err := a.cogs.NewBlockBlobClient("kept.tif").UploadBuffer(ctx, old, nil); err != nil {
		t.Fatal(err)
	}
	big := cog{w: 2600, h: 2200, options: []string{"COMPRESS=NONE", "BLOCKSIZE=512", "OVERVIEW_RESAMPLING=NEAREST"}}
	wrongKey := strings.Repeat("A", 86) + "=="
	for _, c := range []struct {
		name, key string
		cfg       AzureConfig
		cog       cog
		cancel    bool
		want      string
	}{
		{"cancelled", "kept.tif", a.config(), big, true, "context canceled"},
		{"cancelled, new blob", "new.tif", a.config(), big, true, "context canceled"},
		{"wrong key", "kept.tif", AzureConfig{Account: azureAccount, Key: wrongKey, Endpoint: a.endpoint}, big, false, "AuthorizationFailure"},
		{"wrong key, one put", "kept.tif", AzureConfig{ConnectionString: "DefaultEndpointsProtocol=http;AccountName=" + azureAccount +
			";AccountKey=" + wrongKey + ";BlobEndpoint=" + a.endpoint + ";"}, cog{w: 300, h: 300, options: deflate}, false, "AuthorizationFailure"},
	} {
		t.Run(c.name, func(t *testing.T) {
			uctx, cancel := context.WithCancel(ctx)
			defer cancel()
			c.cfg.PartSize = mib
			sink, err := NewAzureSink(uctx, c.cfg, "cogs", c.key)
			c.cog.checkFailure(t, uctx, c.cancel, cancel, sink, err, c.want, azureKey, wrongKey)
			want := old
			if c.key == "new.tif" {
				want = nil
			}
			if got, _ := a.blob(t, c.key); !bytes.Equal(got, want) {
				t.Fatalf("%s holds %d bytes, not %d", c.key, len(got), len(want))
			}
		})
	}
}
