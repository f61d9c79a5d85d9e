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

// gdalBool reads a boolean option as GDAL does (CPLTestBool).
func gdalBool(v string) bool {
	switch strings.ToUpper(v) {
	case "NO", "FALSE", "OFF", "0":
		return false
	}
	return true
}
