package raster

import "strings"

// Option is one KEY=VALUE creation option.
type Option struct {
	Key, Value string
}

func (o Option) String() string { return o.Key + "=" + o.Value }

// ParseOptions splits GDAL-style "KEY=VALUE" strings. Keys are upper-cased
// (GDAL matches them case-insensitively); a later duplicate key wins. A
// malformed entry is named by its position only: its text may be a secret
// (a store option's value passed without its key, or with a mistyped one).
func ParseOptions(kvs []string) ([]Option, error) {
	var out []Option
	for i, kv := range kvs {
		key, value, ok := strings.Cut(kv, "=")
		key = strings.TrimSpace(key)
		switch {
		case !ok:
			return nil, Errorf(StatusInvalidArgument, "option %d has no \"=\": options are of the form KEY=VALUE", i+1)
		case key == "" || strings.ContainsAny(key, " \t\r\n"):
			return nil, Errorf(StatusInvalidArgument, "option %d has an empty key or one with spaces: options are of the form KEY=VALUE", i+1)
		}
		out = SetOption(out, Option{Key: strings.ToUpper(key), Value: value})
	}
	return out, nil
}

// SetOption replaces the value of o.Key, or appends o.
func SetOption(opts []Option, o Option) []Option {
	for i := range opts {
		if opts[i].Key == o.Key {
			opts[i].Value = o.Value
			return opts
		}
	}
	return append(opts, o)
}
