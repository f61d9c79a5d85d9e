package storage

import (
	"regexp"
	"sort"
	"strings"

	"github.com/cloudio-dem/cloudio/internal/raster"
)

// IsSecretOption reports a configuration option whose value is a secret
// (keys, tokens, SAS, passwords, user:password, auth headers); the access
// key id of S3 is a user name, not a secret.
func IsSecretOption(key string) bool {
	k := strings.ToUpper(key)
	if strings.Contains(k, "ACCESS_KEY") && !strings.HasSuffix(k, "ACCESS_KEY_ID") {
		return true
	}
	for _, s := range []string{"SECRET", "TOKEN", "PASSWORD", "PASSWD", "USERPWD", "CONNECTION_STRING", "SAS",
		"PRIVATE_KEY", "ACCOUNT_KEY", "CREDENTIALS", "HEADERS", "COOKIE", "AUTHORIZATION", "SIGNATURE", "API_KEY"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

var (
	// user:password@ in a URL.
	urlCredentials = regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.-]*://)[^/\s:@"']+:[^/\s@"']+@`)
	// Query parameters that sign or authorise a request: Azure SAS's sig,
	// the S3 and GCS signatures and session tokens, OAuth tokens.
	signatureParameter = regexp.MustCompile(`(?i)([?&;](?:sig|signature|x-amz-signature|x-amz-security-token|x-amz-credential|x-goog-signature|x-goog-credential|token|access_token|api_key|key)=)[^&\s"';:]+`)
	// Authorization header values.
	authorization = regexp.MustCompile(`(?i)\b(bearer|basic)\s+[a-z0-9._~+/=-]+`)
	// The secret fields of an Azure connection string.
	connectionSecret = regexp.MustCompile(`(?i)((?:AccountKey|SharedAccessSignature)=)[^;\s"']+`)
)

// ScrubSecrets masks, in a message about to leave the library, the values
// of every secret option configured for a store in this process and among
// extra (options a caller holds that may not be configured, or no longer
// are), and anything shaped like a credential: a URL's user:password,
// signatures and tokens in query strings, authorization header values, the
// keys of a connection string.
func ScrubSecrets(msg string, extra ...raster.Option) string {
	var secrets []string
	add := func(opts []raster.Option) {
		for _, o := range opts {
			if IsSecretOption(o.Key) && len(o.Value) >= 4 {
				secrets = append(secrets, o.Value)
			}
		}
	}
	add(extra)
	configured.mu.Lock()
	for _, opts := range configured.options {
		add(opts)
	}
	configured.mu.Unlock()
	// Longest first: one secret may hold another ("secret" in "secret-1").
	sort.Slice(secrets, func(i, j int) bool { return len(secrets[i]) > len(secrets[j]) })
	for _, s := range secrets {
		msg = strings.ReplaceAll(msg, s, "***")
		for _, field := range connectionSecret.FindAllStringSubmatch(s, -1) {
			msg = strings.ReplaceAll(msg, field[0][len(field[1]):], "***")
		}
	}
	msg = urlCredentials.ReplaceAllString(msg, "${1}***@")
	msg = signatureParameter.ReplaceAllString(msg, "${1}***")
	msg = authorization.ReplaceAllString(msg, "${1} ***")
	return connectionSecret.ReplaceAllString(msg, "${1}***")
}

// ScrubSecretsOf is ScrubSecrets with the extra options as a caller's
// "KEY=VALUE" strings; an entry without "=" is masked whole, since nothing
// says which part of it is not a secret.
func ScrubSecretsOf(msg string, options []string) string {
	var extra []raster.Option
	for _, kv := range options {
		key, value, ok := strings.Cut(kv, "=")
		if !ok {
			key, value = "SECRET", kv
		}
		extra = append(extra, raster.Option{Key: key, Value: value})
	}
	return ScrubSecrets(msg, extra...)
}
