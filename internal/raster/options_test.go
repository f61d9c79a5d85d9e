package raster

import (
	"strings"
	"testing"
)

func TestParseOptions(t *testing.T) {
	opts, err := ParseOptions([]string{"compress=DEFLATE", " blocksize =512", "COMPRESS=ZSTD", "EMPTY="})
	if err != nil {
		t.Fatal(err)
	}
	want := []Option{{"COMPRESS", "ZSTD"}, {"BLOCKSIZE", "512"}, {"EMPTY", ""}}
	if len(opts) != len(want) {
		t.Fatalf("got %v, want %v", opts, want)
	}
	for i := range want {
		if opts[i] != want[i] {
			t.Fatalf("got %v, want %v", opts, want)
		}
	}
}

// A malformed entry is often a secret given without its key: the error
// names where it is, never what it says.
func TestMalformedOptionsNeverRepeatTheirText(t *testing.T) {
	const secret = "wJalrXUtnFEMI/K7MDENG"
	for _, bad := range []string{secret, "=" + secret, "AWS SECRET=" + secret, secret + " x=1"} {
		_, err := ParseOptions([]string{"COMPRESS=DEFLATE", bad})
		if StatusOf(err) != StatusInvalidArgument {
			t.Fatalf("%q: %v, want an invalid-argument error", bad, err)
		}
		if msg := err.Error(); strings.Contains(msg, "wJalr") || !strings.Contains(msg, "option 2") || !strings.Contains(msg, "KEY=VALUE") {
			t.Fatalf("%q: the message %q must name option 2 and the form, not its text", bad, msg)
		}
	}
}
