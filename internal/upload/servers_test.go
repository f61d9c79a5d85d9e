package upload

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// The servers the tests run against, started from the checkout's .tools
// (make tools) on free ports of 127.0.0.1 and stopped when the test ends.
var tools = filepath.Join("..", "..", ".tools")

const (
	minioUser, minioSecret = "cloudio-test", "cloudio-test-secret-8f3a"
	// Azurite's one account and its published development key.
	azureAccount = "devstoreaccount1"
	azureKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// serve starts a server and waits until up answers without an error.
func serve(t *testing.T, cmd *exec.Cmd, up func() error) {
	t.Helper()
	if _, err := os.Stat(cmd.Path); err != nil {
		t.Fatalf("%s is missing (make tools builds it): %v", cmd.Path, err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		err := up()
		select {
		case werr := <-exited:
			t.Fatalf("%s exited: %v", cmd.Path, werr)
		default:
		}
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not come up: %v", cmd.Path, err)
		}
	}
}

// minio is a MinIO server with one bucket, "cogs".
type minio struct {
	addr   string
	client *s3.Client
}

func startMinIO(t *testing.T) *minio {
	t.Helper()
	data := t.TempDir()
	if err := os.Mkdir(filepath.Join(data, "cogs"), 0o755); err != nil { // a folder is a bucket
		t.Fatal(err)
	}
	m := &minio{addr: fmt.Sprintf("127.0.0.1:%d", freePort(t))}
	cmd := exec.Command(filepath.Join(tools, "minio"), "server", data, "--address", m.addr, "--quiet")
	cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+minioUser, "MINIO_ROOT_PASSWORD="+minioSecret, "MINIO_BROWSER=off")
	serve(t, cmd, func() error { return httpUp("http://" + m.addr + "/minio/health/live") })
	m.client = s3.New(s3.Options{Region: "us-east-1", UsePathStyle: true, BaseEndpoint: aws.String("http://" + m.addr),
		Credentials: credentials.NewStaticCredentialsProvider(minioUser, minioSecret, "")})
	return m
}

func httpUp(u string) error {
	resp, err := http.Get(u)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New(resp.Status)
	}
	return nil
}

// config reaches the server at addr (MinIO's or a proxy's).
func (m *minio) config(addr string) S3Config {
	return S3Config{Endpoint: addr, PlainHTTP: true, PathStyle: true, AccessKeyID: minioUser, SecretAccessKey: minioSecret}
}

// azurite is an Azurite blob service with one container, "cogs".
type azurite struct {
	endpoint string
	cogs     *container.Client
}

func startAzurite(t *testing.T) *azurite {
	t.Helper()
	port := freePort(t)
	a := &azurite{endpoint: fmt.Sprintf("http://127.0.0.1:%d/%s", port, azureAccount)}
	cmd := exec.Command(filepath.Join(tools, "azurite", "node_modules", ".bin", "azurite-blob"), "--blobHost", "127.0.0.1",
		"--blobPort", fmt.Sprint(port), "--location", t.TempDir(), "--silent", "--skipApiVersionCheck", "--loose",
		"--disableTelemetry")
	cred, err := blob.NewSharedKeyCredential(azureAccount, azureKey)
	if err != nil {
		t.Fatal(err)
	}
	if a.cogs, err = container.NewClientWithSharedKeyCredential(a.endpoint+"/cogs", cred, nil); err != nil {
		t.Fatal(err)
	}
	serve(t, cmd, func() error {
		_, err := a.cogs.Create(context.Background(), nil)
		return err
	})
	return a
}

func (a *azurite) config() AzureConfig {
	return AzureConfig{Account: azureAccount, Key: azureKey, Endpoint: a.endpoint}
}
