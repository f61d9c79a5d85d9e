package storage

import (
	"strings"

	"github.com/cloudio-dem/cloudio/internal/upload"
)

// S3Upload is how cloudio's own S3 client (internal/upload) uploads the
// object name (a /vsis3/ name) while it is written, from GDAL's options for
// it: endpoint, addressing, region, static credentials, timeouts and
// retries. ok is false when the options hold anything the client does not
// reproduce (the HTTP options newHTTPClient leaves to GDAL, credentials
// GDAL would find elsewhere: a profile, a role, web identity, instance
// metadata): GDAL then uploads the object from a temporary file, as before.
func S3Upload(name string) (cfg upload.S3Config, bucket, key string, ok bool) {
	rest, isS3 := strings.CutPrefix(name, "/vsis3/")
	bucket, key, _ = strings.Cut(rest, "/")
	if !isS3 || bucket == "" || key == "" {
		return cfg, "", "", false
	}
	http := newHTTPClient(name)
	if http == nil {
		return cfg, "", "", false
	}
	option := func(key string) string { v, _ := pathOption(name, key); return v }
	cfg = upload.S3Config{Endpoint: option("AWS_S3_ENDPOINT"), Region: option("AWS_REGION"),
		PlainHTTP: !gdalBool(optionOr(name, "AWS_HTTPS", "YES")), PathStyle: !gdalBool(optionOr(name, "AWS_VIRTUAL_HOSTING", "TRUE")),
		AccessKeyID: option("AWS_ACCESS_KEY_ID"), SecretAccessKey: option("AWS_SECRET_ACCESS_KEY"), SessionToken: option("AWS_SESSION_TOKEN"),
		Anonymous: gdalBool(optionOr(name, "AWS_NO_SIGN_REQUEST", "NO")), HTTPClient: http.client, Retries: http.retries}
	if cfg.Region == "" {
		cfg.Region = option("AWS_DEFAULT_REGION")
	}
	if strings.Contains(cfg.Endpoint, "://") || !cfg.Anonymous && (cfg.AccessKeyID == "" || cfg.SecretAccessKey == "") {
		return cfg, "", "", false
	}
	return cfg, bucket, key, true
}

// AzureUpload is S3Upload for Azure Blob (a /vsiaz/ name): a connection
// string, or an account with a key or a shared access signature, an
// endpoint, timeouts and retries. ok is false, and GDAL uploads the blob
// from a temporary file, for anonymous access, credentials GDAL would find
// elsewhere (managed identity, the Azure CLI's) and HTTP options only GDAL
// implements.
func AzureUpload(name string) (cfg upload.AzureConfig, container, blob string, ok bool) {
	rest, isAzure := strings.CutPrefix(name, "/vsiaz/")
	container, blob, _ = strings.Cut(rest, "/")
	if !isAzure || container == "" || blob == "" {
		return cfg, "", "", false
	}
	http := newHTTPClient(name)
	if http == nil {
		return cfg, "", "", false
	}
	option := func(key string) string { v, _ := pathOption(name, key); return v }
	cfg = upload.AzureConfig{ConnectionString: option("AZURE_STORAGE_CONNECTION_STRING"), Account: option("AZURE_STORAGE_ACCOUNT"),
		Key: option("AZURE_STORAGE_ACCESS_KEY"), SAS: option("AZURE_STORAGE_SAS_TOKEN"), Endpoint: option("CPL_AZURE_ENDPOINT"),
		PlainHTTP: !gdalBool(optionOr(name, "CPL_AZURE_USE_HTTPS", "YES")), HTTPClient: http.client, Retries: http.retries}
	if cfg.SAS == "" {
		cfg.SAS = option("AZURE_SAS") // its name before GDAL 3.5
	}
	if gdalBool(optionOr(name, "AZURE_NO_SIGN_REQUEST", "NO")) || cfg.ConnectionString == "" && (cfg.Account == "" || cfg.Key == "" && cfg.SAS == "") {
		return cfg, "", "", false
	}
	return cfg, container, blob, true
}

// gdalBool reads a boolean option as GDAL does (CPLTestBool).
func gdalBool(v string) bool {
	switch strings.ToUpper(v) {
	case "NO", "FALSE", "OFF", "0":
		return false
	}
	return true
}
