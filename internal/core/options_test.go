package core

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/airbusgeo/godal"

	"github.com/cloudio-dem/cloudio/internal/raster"
)

func TestParseOptions(t *testing.T) {
	for _, c := range []struct {
		name string
		in   []string
		want []raster.Option
	}{
		{"nil", nil, nil},
		{"upper-cased keys, values kept", []string{"blocksize=256", "Compress=zstd", "tiTLe=Mixed Case"},
			[]raster.Option{{Key: "BLOCKSIZE", Value: "256"}, {Key: "COMPRESS", Value: "zstd"}, {Key: "TITLE", Value: "Mixed Case"}}},
		{"duplicates: the last wins, in the first's place", []string{"A=1", "B=2", "a=3", "A=4"},
			[]raster.Option{{Key: "A", Value: "4"}, {Key: "B", Value: "2"}}},
		{"empty value", []string{"EMPTY="}, []raster.Option{{Key: "EMPTY", Value: ""}}},
		{"value with '='", []string{"EXTENT=a=b=c"}, []raster.Option{{Key: "EXTENT", Value: "a=b=c"}}},
		{"spaces around the key are trimmed", []string{"  level\t=9"}, []raster.Option{{Key: "LEVEL", Value: "9"}}},
		{"spaces in values are kept", []string{"TITLE= a b "}, []raster.Option{{Key: "TITLE", Value: " a b "}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := raster.ParseOptions(c.in)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(c.want) || (len(got) > 0 && !reflect.DeepEqual(got, c.want)) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
	for _, bad := range []string{"NOEQUALS", "", "=value", " =x", "\t=x", "TWO WORDS=1", "TAB\tKEY=1", "NEW\nLINE=1", "CR\rKEY=1"} {
		got, err := raster.ParseOptions([]string{"GOOD=1", bad})
		if raster.StatusOf(err) != raster.StatusInvalidArgument || got != nil {
			t.Errorf("%q: got %v, %v; want INVALID_ARGUMENT", bad, got, err)
			continue
		}
		if !strings.Contains(err.Error(), "KEY=VALUE") {
			t.Errorf("%q: message %q does not say what is expected", bad, err)
		}
	}
	if got := (raster.Option{Key: "A", Value: "b=c"}).String(); got != "A=b=c" {
		t.Errorf("String %q", got)
	}
}

const smallSchema = `<CreationOptionList>
  <Option name='COMPRESS' type='string-select' default='NONE'>
     <Value>NONE</Value>
     <Value> DEFLATE </Value>
     <Value>zstd</Value>
  </Option>
  <Option name='PREDICTOR' type='string-select'><Value>YES</Value><Value alias='2'>STANDARD</Value><Value alias='3'>FLOATING_POINT</Value></Option>
  <Option name='level' type='int' description='lower-case name'/>
  <Option name='MAX_Z_ERROR' type='float'/>
  <Option name='TITLE' type='string'/>
  <Option name='SPARSE_OK' type='boolean'/>
</CreationOptionList>`

func TestParseOptionSchema(t *testing.T) {
	s, err := ParseOptionSchema(smallSchema)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for k := range s {
		names = append(names, k)
	}
	sort.Strings(names)
	if want := []string{"COMPRESS", "LEVEL", "MAX_Z_ERROR", "PREDICTOR", "SPARSE_OK", "TITLE"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("names %v, want %v", names, want)
	}
	for key, want := range map[string][]string{
		"COMPRESS":  {"NONE", "DEFLATE", "ZSTD"},
		"PREDICTOR": {"YES", "STANDARD", "2", "FLOATING_POINT", "3"},
		"LEVEL":     nil,
		"MISSING":   nil,
	} {
		if got := s.Choices(key); !reflect.DeepEqual(got, want) {
			t.Errorf("Choices(%s) = %q, want %q", key, got, want)
		}
	}
	if s["LEVEL"].Type != "int" || s["MAX_Z_ERROR"].Type != "float" || s["TITLE"].Type != "string" {
		t.Errorf("types: %+v", s)
	}
	for _, bad := range []string{"<not xml", "<CreationOptionList><Option name='A'></CreationOptionList>"} {
		if _, err := ParseOptionSchema(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if s, err := ParseOptionSchema("<CreationOptionList/>"); err != nil || len(s) != 0 {
		t.Errorf("empty list: %v %v", s, err)
	}
}

func TestCOGSchema(t *testing.T) {
	s, err := COGSchema()
	if err != nil {
		t.Fatal(err)
	}
	again, _ := COGSchema()
	if !reflect.DeepEqual(s, again) {
		t.Fatal("COGSchema differs between calls")
	}
	drv, ok := godal.RasterDriver("COG")
	if !ok {
		t.Fatal("no COG driver")
	}
	direct, err := ParseOptionSchema(drv.Metadata("DMD_CREATIONOPTIONLIST"))
	if err != nil || !reflect.DeepEqual(direct, s) {
		t.Fatalf("COGSchema is not the driver's list: %v", err)
	}
	compress := s.Choices("COMPRESS")
	for _, m := range []string{"NONE", "LZW", "DEFLATE", "ZSTD", "LERC", "LERC_DEFLATE", "LERC_ZSTD", "JPEG", "WEBP", "LZMA"} {
		if !contains(compress, m) {
			t.Errorf("COMPRESS choices %v lack %s", compress, m)
		}
	}
	methods, err := CompressMethods()
	if err != nil || !reflect.DeepEqual(methods, compress) {
		t.Errorf("CompressMethods %v %v", methods, err)
	}
	if p := s.Choices("PREDICTOR"); !reflect.DeepEqual(p, []string{"YES", "NO", "STANDARD", "2", "FLOATING_POINT", "3"}) {
		t.Errorf("PREDICTOR choices %v", p)
	}
	for key, typ := range map[string]string{"BLOCKSIZE": "int", "LEVEL": "int", "MAX_Z_ERROR": "float", "NUM_THREADS": "string", "BIGTIFF": "string-select", "OVERVIEWS": "string-select"} {
		if s[key].Type != typ {
			t.Errorf("%s has type %q, want %q", key, s[key].Type, typ)
		}
	}
}

func TestValidate(t *testing.T) {
	s, err := ParseOptionSchema(smallSchema)
	if err != nil {
		t.Fatal(err)
	}
	in := []raster.Option{{Key: "COMPRESS", Value: " deflate "}, {Key: "PREDICTOR", Value: "2"}, {Key: "LEVEL", Value: " 9 "}, {Key: "MAX_Z_ERROR", Value: "1e-3"}, {Key: "TITLE", Value: "any Thing"}, {Key: "SPARSE_OK", Value: "yes"}, {Key: "COMPRESS", Value: "Zstd"}}
	inCopy := append([]raster.Option(nil), in...)
	got, err := s.Validate(in)
	if err != nil {
		t.Fatal(err)
	}
	want := []raster.Option{{Key: "COMPRESS", Value: "DEFLATE"}, {Key: "PREDICTOR", Value: "2"}, {Key: "LEVEL", Value: "9"}, {Key: "MAX_Z_ERROR", Value: "1e-3"}, {Key: "TITLE", Value: "any Thing"}, {Key: "SPARSE_OK", Value: "YES"}, {Key: "COMPRESS", Value: "ZSTD"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if !reflect.DeepEqual(in, inCopy) {
		t.Fatalf("Validate changed its input: %v", in)
	}
	for _, alias := range []string{"2", "3", "standard", "FLOATING_POINT", "yes"} {
		if _, err := s.Validate([]raster.Option{{Key: "PREDICTOR", Value: alias}}); err != nil {
			t.Errorf("PREDICTOR=%s: %v", alias, err)
		}
	}
	if got, err := s.Validate(nil); err != nil || len(got) != 0 {
		t.Errorf("no options: %v %v", got, err)
	}
	for _, c := range []struct {
		opt      raster.Option
		contains []string
	}{
		{raster.Option{Key: "NOPE", Value: "1"}, []string{`"NOPE"`, "COMPRESS", "LEVEL", "PREDICTOR", "TITLE"}},
		{raster.Option{Key: "compress", Value: "DEFLATE"}, []string{`"compress"`}}, // keys must come upper-cased, as ParseOptions makes them
		{raster.Option{Key: "COMPRESS", Value: "BROTLI"}, []string{`"BROTLI"`, "COMPRESS", "NONE, DEFLATE, ZSTD"}},
		{raster.Option{Key: "COMPRESS", Value: ""}, []string{"COMPRESS"}},
		{raster.Option{Key: "PREDICTOR", Value: "4"}, []string{`"4"`, "STANDARD, 2"}},
		{raster.Option{Key: "LEVEL", Value: "high"}, []string{`"high"`, "LEVEL", "integer"}},
		{raster.Option{Key: "LEVEL", Value: "1.5"}, []string{"LEVEL", "integer"}},
		{raster.Option{Key: "LEVEL", Value: ""}, []string{"LEVEL"}},
		{raster.Option{Key: "LEVEL", Value: "99999999999999999999"}, []string{"LEVEL"}},
		{raster.Option{Key: "MAX_Z_ERROR", Value: "x"}, []string{`"x"`, "MAX_Z_ERROR", "number"}},
		{raster.Option{Key: "MAX_Z_ERROR", Value: "1,5"}, []string{"MAX_Z_ERROR"}},
	} {
		_, err := s.Validate([]raster.Option{{Key: "TITLE", Value: "ok"}, c.opt})
		if raster.StatusOf(err) != raster.StatusInvalidArgument {
			t.Errorf("%v: %v, want INVALID_ARGUMENT", c.opt, err)
			continue
		}
		for _, sub := range c.contains {
			if !strings.Contains(err.Error(), sub) {
				t.Errorf("%v: message %q lacks %q", c.opt, err, sub)
			}
		}
	}
}

func TestValidateCOGSchema(t *testing.T) {
	s, err := COGSchema()
	if err != nil {
		t.Fatal(err)
	}
	ok, err := s.Validate([]raster.Option{{Key: "BLOCKSIZE", Value: "256"}, {Key: "PREDICTOR", Value: "2"}, {Key: "OVERVIEWS", Value: "ignore_existing"}, {Key: "TARGET_SRS", Value: "epsg:4326"}, {Key: "BIGTIFF", Value: "if_safer"}})
	if err != nil {
		t.Fatal(err)
	}
	if v := find(ok, "OVERVIEWS"); v != "IGNORE_EXISTING" {
		t.Errorf("OVERVIEWS=%q", v)
	}
	if v := find(ok, "TARGET_SRS"); v != "epsg:4326" {
		t.Errorf("a string option changed: TARGET_SRS=%q", v)
	}
	for _, bad := range []raster.Option{{Key: "BLOCKSIZE", Value: "big"}, {Key: "PREDICTOR", Value: "7"}, {Key: "MAX_Z_ERROR", Value: "none"}, {Key: "TILED", Value: "YES"}, {Key: "BIGTIFF", Value: "maybe"}} {
		if _, err := s.Validate([]raster.Option{bad}); raster.StatusOf(err) != raster.StatusInvalidArgument {
			t.Errorf("%v: %v", bad, err)
		}
	}
}

func find(opts []raster.Option, key string) string {
	v, _ := findOption(opts, key)
	return v
}

func optionMap(t *testing.T, opts []raster.Option) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, o := range opts {
		if _, dup := m[o.Key]; dup {
			t.Fatalf("%s appears twice in %v", o.Key, opts)
		}
		m[o.Key] = o.Value
	}
	return m
}

func TestCOGCreationOptionsDefaults(t *testing.T) {
	ints := []raster.DType{raster.Byte, raster.UInt16, raster.Int16, raster.UInt32, raster.Int32, raster.UInt64, raster.Int64}
	floats := []raster.DType{raster.Float32, raster.Float64}
	for _, dt := range append(append([]raster.DType{}, ints...), floats...) {
		predictor := "STANDARD"
		if dt.IsFloat() {
			predictor = "FLOATING_POINT"
		}
		for _, compress := range []string{"", "deflate", "DEFLATE", " Deflate ", "lzw", "ZsTd"} {
			opts, err := COGCreationOptions(compress, dt, 1, nil)
			if err != nil {
				t.Fatalf("%s %q: %v", dt, compress, err)
			}
			method := strings.ToUpper(strings.TrimSpace(compress))
			if method == "" {
				method = "DEFLATE"
			}
			want := map[string]string{"COMPRESS": method, "NUM_THREADS": "ALL_CPUS", "BIGTIFF": "IF_SAFER", "PREDICTOR": predictor,
				"OVERVIEW_RESAMPLING": DefaultOverviewResampling(dt)}
			if got := optionMap(t, opts); !reflect.DeepEqual(got, want) {
				t.Errorf("%s %q: %v, want %v", dt, compress, got, want)
			}
		}
		for _, compress := range []string{"none", "lerc", "LERC_DEFLATE", "lerc_zstd", "lzma"} {
			if strings.HasPrefix(strings.ToUpper(compress), "LERC") && (dt == raster.Int64 || dt == raster.UInt64) {
				continue
			}
			opts, err := COGCreationOptions(compress, dt, 1, nil)
			if err != nil {
				t.Fatalf("%s %q: %v", dt, compress, err)
			}
			want := map[string]string{"COMPRESS": strings.ToUpper(compress), "NUM_THREADS": "ALL_CPUS", "BIGTIFF": "IF_SAFER",
				"OVERVIEW_RESAMPLING": DefaultOverviewResampling(dt)}
			if got := optionMap(t, opts); !reflect.DeepEqual(got, want) {
				t.Errorf("%s %q: %v, want %v (no predictor)", dt, compress, got, want)
			}
		}
	}
	opts, err := COGCreationOptions("jpeg", raster.Byte, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, set := findOption(opts, "PREDICTOR"); set || find(opts, "COMPRESS") != "JPEG" {
		t.Errorf("JPEG: %v", opts)
	}
	// the first three are in a fixed order
	opts, _ = COGCreationOptions("", raster.Float32, 1, nil)
	if len(opts) < 3 || opts[0] != (raster.Option{Key: "COMPRESS", Value: "DEFLATE"}) || opts[1] != (raster.Option{Key: "NUM_THREADS", Value: "ALL_CPUS"}) || opts[2] != (raster.Option{Key: "BIGTIFF", Value: "IF_SAFER"}) {
		t.Errorf("order: %v", opts)
	}
}

func TestCOGCreationOptionsOverrides(t *testing.T) {
	for _, c := range []struct {
		compress string
		dtype    raster.DType
		extra    []string
		want     map[string]string
	}{
		{"deflate", raster.Float32, []string{"PREDICTOR=NO", "NUM_THREADS=1", "BIGTIFF=YES"},
			map[string]string{"COMPRESS": "DEFLATE", "PREDICTOR": "NO", "NUM_THREADS": "1", "BIGTIFF": "YES"}},
		{"deflate", raster.Int16, []string{"predictor=2"}, map[string]string{"COMPRESS": "DEFLATE", "PREDICTOR": "2", "NUM_THREADS": "ALL_CPUS", "BIGTIFF": "IF_SAFER"}},
		{"", raster.Float32, []string{"compress=zstd"}, map[string]string{"COMPRESS": "ZSTD", "PREDICTOR": "FLOATING_POINT", "NUM_THREADS": "ALL_CPUS", "BIGTIFF": "IF_SAFER"}},
		{"zstd", raster.Float32, []string{"COMPRESS=lerc"}, map[string]string{"COMPRESS": "LERC", "NUM_THREADS": "ALL_CPUS", "BIGTIFF": "IF_SAFER"}},
		{"lerc", raster.Int32, []string{"COMPRESS=LZW"}, map[string]string{"COMPRESS": "LZW", "PREDICTOR": "STANDARD", "NUM_THREADS": "ALL_CPUS", "BIGTIFF": "IF_SAFER"}},
		{"", raster.UInt16, []string{"COMPRESS=NONE"}, map[string]string{"COMPRESS": "NONE", "NUM_THREADS": "ALL_CPUS", "BIGTIFF": "IF_SAFER"}},
		{"", raster.Float64, []string{"num_threads=4", "NUM_THREADS=2", "blocksize=256", "LEVEL=9"},
			map[string]string{"COMPRESS": "DEFLATE", "PREDICTOR": "FLOATING_POINT", "NUM_THREADS": "2", "BIGTIFF": "IF_SAFER", "BLOCKSIZE": "256", "LEVEL": "9"}},
		{"lerc", raster.Float32, []string{"MAX_Z_ERROR=0.01"}, map[string]string{"COMPRESS": "LERC", "NUM_THREADS": "ALL_CPUS", "BIGTIFF": "IF_SAFER", "MAX_Z_ERROR": "0.01"}},
		{"", raster.Byte, []string{"PREDICTOR=YES"}, map[string]string{"COMPRESS": "DEFLATE", "PREDICTOR": "YES", "NUM_THREADS": "ALL_CPUS", "BIGTIFF": "IF_SAFER"}},
		{"", raster.Int16, []string{"overview_resampling=mode"}, map[string]string{"COMPRESS": "DEFLATE", "PREDICTOR": "STANDARD", "NUM_THREADS": "ALL_CPUS", "BIGTIFF": "IF_SAFER", "OVERVIEW_RESAMPLING": "MODE"}},
		// RESAMPLING is the COG driver's method for overviews when OVERVIEW_RESAMPLING is not given: no default then
		{"", raster.Float32, []string{"RESAMPLING=bilinear"}, map[string]string{"COMPRESS": "DEFLATE", "PREDICTOR": "FLOATING_POINT", "NUM_THREADS": "ALL_CPUS", "BIGTIFF": "IF_SAFER", "RESAMPLING": "BILINEAR", "OVERVIEW_RESAMPLING": ""}},
	} {
		opts, err := COGCreationOptions(c.compress, c.dtype, 1, c.extra)
		if err != nil {
			t.Errorf("%+v: %v", c, err)
			continue
		}
		if v, set := c.want["OVERVIEW_RESAMPLING"]; !set {
			c.want["OVERVIEW_RESAMPLING"] = DefaultOverviewResampling(c.dtype)
		} else if v == "" {
			delete(c.want, "OVERVIEW_RESAMPLING")
		}
		if got := optionMap(t, opts); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q %s %v: %v, want %v", c.compress, c.dtype, c.extra, got, c.want)
		}
	}
}

func TestCOGCreationOptionsErrors(t *testing.T) {
	methods, err := CompressMethods()
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"brotli", "gzip", "deflate9", "LERC_LZW", "-"} {
		_, err := COGCreationOptions(bad, raster.Float32, 1, nil)
		if raster.StatusOf(err) != raster.StatusInvalidArgument {
			t.Errorf("compress %q: %v", bad, err)
			continue
		}
		if !strings.Contains(err.Error(), strings.ToUpper(bad)) {
			t.Errorf("compress %q: message %q does not name it", bad, err)
		}
		for _, m := range methods {
			if !strings.Contains(err.Error(), m) {
				t.Errorf("compress %q: message %q does not list %s", bad, err, m)
			}
		}
	}
	for _, c := range []struct {
		compress string
		dtype    raster.DType
		bands    int64
		extra    []string
	}{
		{"", raster.Float32, 1, []string{"NOT_AN_OPTION=1"}},
		{"", raster.Float32, 1, []string{"NOEQUALS"}},
		{"", raster.Float32, 1, []string{"=1"}},
		{"", raster.Float32, 1, []string{"BLOCKSIZE=x"}},
		{"", raster.Float32, 1, []string{"MAX_Z_ERROR=much"}},
		{"", raster.Float32, 1, []string{"PREDICTOR=7"}},
		{"", raster.Float32, 1, []string{"COMPRESS=brotli"}},
		{"", raster.Float32, 1, []string{"BIGTIFF=PERHAPS"}},
		{"", raster.Float32, 1, []string{"TILED=YES"}}, // a GTiff option, not a COG one
		{"", raster.Float32, 1, []string{"OVERVIEW_RESAMPLING=bogus"}},
		{"", raster.Float32, 1, []string{"BLOCKSIZE=0"}},
		// methods the data cannot take
		{"jpeg", raster.Float32, 1, nil},
		{"JPEG", raster.Byte, 2, nil},
		{"JPEG", raster.UInt16, 1, nil},
		{"webp", raster.Byte, 1, nil},
		{"WEBP", raster.Int16, 3, nil},
		{"lerc", raster.Int64, 1, nil},
		{"lerc_zstd", raster.UInt64, 1, nil},
		{"", raster.Float32, 1, []string{"COMPRESS=JPEG"}},
		{"", raster.Int64, 1, []string{"compress=lerc_deflate"}},
	} {
		if _, err := COGCreationOptions(c.compress, c.dtype, c.bands, c.extra); raster.StatusOf(err) != raster.StatusInvalidArgument {
			t.Errorf("%q %s x%d %v: %v, want INVALID_ARGUMENT", c.compress, c.dtype, c.bands, c.extra, err)
		}
	}
	for _, c := range []struct {
		compress string
		dtype    raster.DType
		bands    int64
	}{{"jpeg", raster.Byte, 1}, {"jpeg", raster.Byte, 3}, {"jpeg", raster.Byte, 4}, {"webp", raster.Byte, 3}, {"webp", raster.Byte, 4}, {"lerc", raster.Float64, 1}, {"lerc", raster.Int32, 2}} {
		if _, err := COGCreationOptions(c.compress, c.dtype, c.bands, nil); err != nil {
			t.Errorf("%q %s x%d: %v", c.compress, c.dtype, c.bands, err)
		}
	}
}

func FuzzParseOptions(f *testing.F) {
	for _, s := range []string{"BLOCKSIZE=256", "compress=zstd", "=x", "A==B", "NO_EQUALS", " K =v", "PREDICTOR=2\x00", "\xff=\xfe",
		"predictor=floating_point", "LEVEL=-1", "MAX_Z_ERROR=NaN", "ǅ=1", "ß=x", "\u00a0=1", "A\u00a0B=1", "bigtiff=if_safer", "OVERVIEWS=", ""} {
		f.Add(s, "compress=deflate")
	}
	f.Add("a=1", "A=2")
	schema, err := COGSchema()
	if err != nil {
		f.Fatal(err)
	}
	small, err := ParseOptionSchema(smallSchema)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		opts, err := raster.ParseOptions([]string{a, b})
		if err != nil {
			if raster.StatusOf(err) != raster.StatusInvalidArgument {
				t.Fatalf("%q %q: status %v", a, b, raster.StatusOf(err))
			}
			if opts != nil {
				t.Fatalf("%q %q: options %v with an error", a, b, opts)
			}
			return
		}
		if len(opts) < 1 || len(opts) > 2 {
			t.Fatalf("%q %q: %d options", a, b, len(opts))
		}
		for _, o := range opts {
			if o.Key == "" || o.Key != strings.ToUpper(o.Key) || strings.Contains(o.Key, "=") || strings.TrimSpace(o.Key) != o.Key {
				t.Fatalf("%q %q: key %q", a, b, o.Key)
			}
		}
		_, va, _ := strings.Cut(a, "=")
		_, vb, _ := strings.Cut(b, "=")
		if opts[len(opts)-1].Value != vb {
			t.Fatalf("%q %q: the last value is %q, want %q", a, b, opts[len(opts)-1].Value, vb)
		}
		if len(opts) == 2 && opts[0].Value != va {
			t.Fatalf("%q %q: the first value is %q, want %q", a, b, opts[0].Value, va)
		}
		if len(opts) == 1 && opts[0].Key != strings.ToUpper(strings.TrimSpace(strings.SplitN(a, "=", 2)[0])) {
			t.Fatalf("%q %q: merged into %q", a, b, opts[0].Key)
		}
		for _, s := range []OptionSchema{schema, small} {
			out, err := s.Validate(opts)
			if err != nil {
				if raster.StatusOf(err) != raster.StatusInvalidArgument {
					t.Fatalf("%q %q: validate status %v", a, b, raster.StatusOf(err))
				}
				continue
			}
			if len(out) != len(opts) {
				t.Fatalf("%q %q: validate returned %v for %v", a, b, out, opts)
			}
			for i := range out {
				if out[i].Key != opts[i].Key {
					t.Fatalf("%q %q: validate renamed %q to %q", a, b, opts[i].Key, out[i].Key)
				}
			}
		}
		// with defaults, every valid set of options either merges or fails cleanly
		if merged, err := COGCreationOptions("", raster.Float32, 1, []string{a, b}); err != nil {
			if raster.StatusOf(err) != raster.StatusInvalidArgument {
				t.Fatalf("%q %q: COGCreationOptions status %v", a, b, raster.StatusOf(err))
			}
		} else if find(merged, "COMPRESS") == "" {
			t.Fatalf("%q %q: no COMPRESS in %v", a, b, merged)
		}
	})
}

// Every value a driver's option list declares something about is checked:
// type, range, choices; and the limits the COG driver enforces without
// declaring them.
func TestValidateDeclaredRangesAndUndeclaredLimits(t *testing.T) {
	cog, err := COGSchema()
	if err != nil {
		t.Fatal(err)
	}
	zarr, err := driverSchema("Zarr", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		format string
		schema OptionSchema
		opt    raster.Option
		want   string // the canonical value; "" for an error
		says   string // the error names what is expected
	}{
		{"COG", cog, raster.Option{Key: "BLOCKSIZE", Value: "0"}, "", ">= 128"},
		{"COG", cog, raster.Option{Key: "BLOCKSIZE", Value: "-256"}, "", ">= 128"},
		{"COG", cog, raster.Option{Key: "BLOCKSIZE", Value: "100"}, "", ">= 128"},
		{"COG", cog, raster.Option{Key: "BLOCKSIZE", Value: "2147483648"}, "", "multiple of 16 from 128 to 4096"},
		{"COG", cog, raster.Option{Key: "BLOCKSIZE", Value: "200"}, "", "multiple of 16"},
		{"COG", cog, raster.Option{Key: "BLOCKSIZE", Value: "8192"}, "", "4096"},
		{"COG", cog, raster.Option{Key: "BLOCKSIZE", Value: "128"}, "128", ""},
		{"COG", cog, raster.Option{Key: "BLOCKSIZE", Value: " 4096 "}, "4096", ""},
		{"COG", cog, raster.Option{Key: "OVERVIEW_RESAMPLING", Value: "bogus"}, "", "NEAREST, AVERAGE"},
		{"COG", cog, raster.Option{Key: "OVERVIEW_RESAMPLING", Value: "none"}, "", "NEAREST"},
		{"COG", cog, raster.Option{Key: "OVERVIEW_RESAMPLING", Value: "Average"}, "AVERAGE", ""},
		{"COG", cog, raster.Option{Key: "RESAMPLING", Value: "cubicspline"}, "CUBICSPLINE", ""},
		{"COG", cog, raster.Option{Key: "RESAMPLING", Value: "bogus"}, "", "overview resampling method"},
		{"COG", cog, raster.Option{Key: "OVERVIEW_COUNT", Value: "-1"}, "", ">= 0"},
		{"COG", cog, raster.Option{Key: "SPARSE_OK", Value: "maybe"}, "", "YES or NO"},
		{"COG", cog, raster.Option{Key: "SPARSE_OK", Value: "true"}, "YES", ""},
		{"COG", cog, raster.Option{Key: "ADD_ALPHA", Value: "off"}, "NO", ""},
		{"COG", cog, raster.Option{Key: "NUM_THREADS", Value: "0"}, "", "ALL_CPUS"},
		{"COG", cog, raster.Option{Key: "NUM_THREADS", Value: "lots"}, "", "ALL_CPUS"},
		{"COG", cog, raster.Option{Key: "NUM_THREADS", Value: "all_cpus"}, "ALL_CPUS", ""},
		{"COG", cog, raster.Option{Key: "NUM_THREADS", Value: "4"}, "4", ""},
		{"COG", cog, raster.Option{Key: "QUALITY", Value: "101"}, "", "1 to 100"},
		{"COG", cog, raster.Option{Key: "QUALITY", Value: "90"}, "90", ""},
		{"COG", cog, raster.Option{Key: "MAX_Z_ERROR", Value: "nan"}, "", "number"},
		{"Zarr", zarr, raster.Option{Key: "ZSTD_LEVEL", Value: "23"}, "", "from 1 to 22"},
		{"Zarr", zarr, raster.Option{Key: "ZSTD_LEVEL", Value: "0"}, "", "from 1 to 22"},
		{"Zarr", zarr, raster.Option{Key: "ZSTD_LEVEL", Value: "22"}, "22", ""},
		{"Zarr", zarr, raster.Option{Key: "LZ4_ACCELERATION", Value: "0"}, "", ">= 1"},
		{"Zarr", zarr, raster.Option{Key: "CREATE_ZMETADATA", Value: "2"}, "", "YES or NO"},
	} {
		got, err := c.schema.ValidateAs(c.format, []raster.Option{c.opt})
		if c.want != "" {
			if err != nil || len(got) != 1 || got[0].Value != c.want {
				t.Errorf("%s %v: %v %v, want %q", c.format, c.opt, got, err, c.want)
			}
			continue
		}
		wantStatus(t, err, raster.StatusInvalidArgument, fmt.Sprintf("%s %v", c.format, c.opt))
		if err != nil && (!strings.Contains(err.Error(), c.opt.Key) || !strings.Contains(err.Error(), c.says)) {
			t.Errorf("%s %v: message %q does not name the option and %q", c.format, c.opt, err, c.says)
		}
	}
}

// The overview methods come from GDAL itself: every method GDAL 3.6 lists
// for gdaladdo -r, no NONE.
func TestOverviewMethods(t *testing.T) {
	got := OverviewMethods()
	for _, m := range []string{"NEAREST", "AVERAGE", "RMS", "BILINEAR", "GAUSS", "CUBIC", "CUBICSPLINE", "LANCZOS", "MODE"} {
		if !contains(got, m) {
			t.Errorf("%s missing from %v", m, got)
		}
	}
	if contains(got, "NONE") || contains(got, "BOGUS") {
		t.Errorf("methods %v", got)
	}
	if DefaultOverviewResampling(raster.Byte) != "NEAREST" || DefaultOverviewResampling(raster.Int64) != "NEAREST" ||
		DefaultOverviewResampling(raster.Float32) != "AVERAGE" || DefaultOverviewResampling(raster.Float64) != "AVERAGE" {
		t.Error("defaults")
	}
}
