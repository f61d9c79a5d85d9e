package core

import (
	"strings"
	"testing"
)

func TestParseOptions(t *testing.T) {
	opts, err := ParseOptions([]string{"blocksize=256", "COMPRESS=LZW", "compress=ZSTD", "EMPTY="})
	if err != nil {
		t.Fatal(err)
	}
	want := []Option{{"BLOCKSIZE", "256"}, {"COMPRESS", "ZSTD"}, {"EMPTY", ""}}
	if len(opts) != len(want) {
		t.Fatalf("got %v", opts)
	}
	for i := range want {
		if opts[i] != want[i] {
			t.Fatalf("got %v, want %v", opts, want)
		}
	}
	for _, bad := range []string{"NOEQUALS", "=value", "TWO WORDS=1", " =x"} {
		if _, err := ParseOptions([]string{bad}); StatusOf(err) != StatusInvalidArgument {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

const smallSchema = `<CreationOptionList>
  <Option name='COMPRESS' type='string-select'><Value>NONE</Value><Value>DEFLATE</Value></Option>
  <Option name='PREDICTOR' type='string-select'><Value>YES</Value><Value alias='2'>STANDARD</Value></Option>
  <Option name='LEVEL' type='int'/>
  <Option name='MAX_Z_ERROR' type='float'/>
  <Option name='TITLE' type='string'/>
</CreationOptionList>`

func TestSchemaValidate(t *testing.T) {
	s, err := ParseOptionSchema(smallSchema)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.Choices("PREDICTOR"), ","); got != "YES,STANDARD,2" {
		t.Fatalf("choices %s", got)
	}
	ok, err := s.Validate([]Option{{"COMPRESS", "deflate"}, {"PREDICTOR", "2"}, {"LEVEL", "9"}, {"MAX_Z_ERROR", "0.5"}, {"TITLE", "any"}})
	if err != nil || ok[0].Value != "DEFLATE" {
		t.Fatalf("%v %v", ok, err)
	}
	for _, bad := range []Option{{"NOPE", "1"}, {"COMPRESS", "BROTLI"}, {"LEVEL", "high"}, {"MAX_Z_ERROR", "x"}} {
		if _, err := s.Validate([]Option{bad}); StatusOf(err) != StatusInvalidArgument || !strings.Contains(err.Error(), bad.Key) {
			t.Errorf("%v: %v", bad, err)
		}
	}
	if _, err := ParseOptionSchema("<not xml"); err == nil {
		t.Fatal("bad XML accepted")
	}
}

func find(opts []Option, key string) string {
	v, _ := findOption(opts, key)
	return v
}

func TestCOGCreationOptions(t *testing.T) {
	for _, c := range []struct {
		compress string
		dtype    DType
		extra    []string
		want     map[string]string
	}{
		{"", Float32, nil, map[string]string{"COMPRESS": "DEFLATE", "PREDICTOR": "FLOATING_POINT", "NUM_THREADS": "ALL_CPUS", "BIGTIFF": "IF_SAFER"}},
		{"zstd", Int16, nil, map[string]string{"COMPRESS": "ZSTD", "PREDICTOR": "STANDARD"}},
		{"LzW", Byte, nil, map[string]string{"COMPRESS": "LZW", "PREDICTOR": "STANDARD"}},
		{"lerc", Float32, nil, map[string]string{"COMPRESS": "LERC", "PREDICTOR": ""}},
		{"none", Float64, nil, map[string]string{"COMPRESS": "NONE", "PREDICTOR": ""}},
		{"deflate", Float32, []string{"PREDICTOR=NO", "NUM_THREADS=1", "BIGTIFF=YES"}, map[string]string{"PREDICTOR": "NO", "NUM_THREADS": "1", "BIGTIFF": "YES"}},
		{"deflate", Float32, []string{"compress=zstd"}, map[string]string{"COMPRESS": "ZSTD", "PREDICTOR": "FLOATING_POINT"}},
	} {
		opts, err := COGCreationOptions(c.compress, c.dtype, 1, c.extra)
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		for k, v := range c.want {
			if got := find(opts, k); got != v {
				t.Errorf("%+v: %s=%q, want %q (all: %v)", c, k, got, v, opts)
			}
		}
	}
	_, err := COGCreationOptions("brotli", Float32, 1, nil)
	if StatusOf(err) != StatusInvalidArgument || !strings.Contains(err.Error(), "DEFLATE") || !strings.Contains(err.Error(), "BROTLI") {
		t.Fatalf("unknown compress: %v", err)
	}
	if _, err := COGCreationOptions("", Float32, 1, []string{"NOT_AN_OPTION=1"}); StatusOf(err) != StatusInvalidArgument {
		t.Fatalf("unknown option: %v", err)
	}
	for _, c := range []struct {
		compress string
		dtype    DType
		bands    int64
	}{{"jpeg", Float32, 1}, {"JPEG", Byte, 2}, {"webp", Byte, 1}, {"WEBP", Int16, 3}, {"lerc", Int64, 1}, {"deflate", Byte, 1}} {
		_, err := COGCreationOptions("", c.dtype, c.bands, []string{"COMPRESS=" + c.compress})
		if unsuitable := c.compress != "deflate"; unsuitable != (StatusOf(err) == StatusInvalidArgument) {
			t.Errorf("%+v: %v", c, err)
		}
	}
	methods, err := CompressMethods()
	if err != nil || !contains(methods, "DEFLATE") || !contains(methods, "ZSTD") {
		t.Fatalf("methods %v %v", methods, err)
	}
}

func FuzzParseOptions(f *testing.F) {
	for _, s := range []string{"BLOCKSIZE=256", "compress=zstd", "=x", "A==B", "NO_EQUALS", " K =v", "PREDICTOR=2\x00", "\xff=\xfe"} {
		f.Add(s)
	}
	schema, err := COGSchema()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		opts, err := ParseOptions([]string{s})
		if err != nil {
			if StatusOf(err) != StatusInvalidArgument {
				t.Fatalf("%q: status %v", s, StatusOf(err))
			}
			return
		}
		for _, o := range opts {
			if o.Key == "" || o.Key != strings.ToUpper(o.Key) || strings.Contains(o.Key, "=") {
				t.Fatalf("%q: key %q", s, o.Key)
			}
		}
		if _, err := schema.Validate(opts); err != nil && StatusOf(err) != StatusInvalidArgument {
			t.Fatalf("%q: validate status %v", s, StatusOf(err))
		}
	})
}
