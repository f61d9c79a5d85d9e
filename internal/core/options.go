package core

import (
	"encoding/xml"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/airbusgeo/godal"
)

// Option is one KEY=VALUE creation option.
type Option struct {
	Key, Value string
}

func (o Option) String() string { return o.Key + "=" + o.Value }

// ParseOptions splits GDAL-style "KEY=VALUE" strings. Keys are upper-cased
// (GDAL matches them case-insensitively); a later duplicate key wins.
func ParseOptions(kvs []string) ([]Option, error) {
	var out []Option
	for _, kv := range kvs {
		key, value, ok := strings.Cut(kv, "=")
		key = strings.TrimSpace(key)
		if !ok || key == "" || strings.ContainsAny(key, " \t\r\n") {
			return nil, errorf(StatusInvalidArgument, "option %q is not of the form KEY=VALUE", kv)
		}
		out = setOption(out, Option{Key: strings.ToUpper(key), Value: value})
	}
	return out, nil
}

// setOption replaces the value of o.Key, or appends o.
func setOption(opts []Option, o Option) []Option {
	for i := range opts {
		if opts[i].Key == o.Key {
			opts[i].Value = o.Value
			return opts
		}
	}
	return append(opts, o)
}

// optionSpec is one <Option> of a driver's DMD_CREATIONOPTIONLIST.
type optionSpec struct {
	Name   string `xml:"name,attr"`
	Type   string `xml:"type,attr"`
	Values []struct {
		Alias string `xml:"alias,attr"`
		Text  string `xml:",chardata"`
	} `xml:"Value"`
}

// OptionSchema is what a driver declares about its creation options.
type OptionSchema map[string]optionSpec

// ParseOptionSchema reads a DMD_CREATIONOPTIONLIST document.
func ParseOptionSchema(doc string) (OptionSchema, error) {
	var list struct {
		Options []optionSpec `xml:"Option"`
	}
	if err := xml.Unmarshal([]byte(doc), &list); err != nil {
		return nil, errorf(StatusInternal, "cannot parse the driver's creation option list: %v", err)
	}
	s := OptionSchema{}
	for _, o := range list.Options {
		s[strings.ToUpper(o.Name)] = o
	}
	return s, nil
}

// Choices returns the values a string-select option declares, aliases
// included, upper-cased.
func (s OptionSchema) Choices(key string) []string {
	var out []string
	for _, v := range s[key].Values {
		out = append(out, strings.ToUpper(strings.TrimSpace(v.Text)))
		if v.Alias != "" {
			out = append(out, strings.ToUpper(v.Alias))
		}
	}
	return out
}

// Validate checks the options of a COG, as ValidateAs does.
func (s OptionSchema) Validate(opts []Option) ([]Option, error) { return s.ValidateAs("COG", opts) }

// ValidateAs checks that every option is declared and has a value of the
// declared kind; select values are upper-cased to their canonical spelling.
// Messages name the driver's format.
func (s OptionSchema) ValidateAs(format string, opts []Option) ([]Option, error) {
	out := make([]Option, 0, len(opts))
	for _, o := range opts {
		spec, ok := s[o.Key]
		if !ok {
			return nil, errorf(StatusInvalidArgument, "unknown %s creation option %q (known: %s)", format, o.Key, strings.Join(s.names(), ", "))
		}
		v := strings.TrimSpace(o.Value)
		switch spec.Type {
		case "string-select":
			choices := s.Choices(o.Key)
			if !contains(choices, strings.ToUpper(v)) {
				return nil, errorf(StatusInvalidArgument, "invalid value %q for %s option %s (expected one of %s)", o.Value, format, o.Key, strings.Join(choices, ", "))
			}
			v = strings.ToUpper(v)
		case "int":
			if _, err := strconv.ParseInt(v, 10, 64); err != nil {
				return nil, errorf(StatusInvalidArgument, "invalid value %q for %s option %s (expected an integer)", o.Value, format, o.Key)
			}
		case "float":
			if _, err := strconv.ParseFloat(v, 64); err != nil {
				return nil, errorf(StatusInvalidArgument, "invalid value %q for %s option %s (expected a number)", o.Value, format, o.Key)
			}
		}
		out = append(out, Option{Key: o.Key, Value: v})
	}
	return out, nil
}

func (s OptionSchema) names() []string {
	names := make([]string, 0, len(s))
	for k := range s {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

var schemas struct {
	mu    sync.Mutex
	known map[string]OptionSchema
}

// driverSchema returns the creation options the installed GDAL's driver
// declares, read from GDAL once; missing says what a build without the
// driver lacks.
func driverSchema(driver, missing string) (OptionSchema, error) {
	Init()
	schemas.mu.Lock()
	defer schemas.mu.Unlock()
	if s, ok := schemas.known[driver]; ok {
		return s, nil
	}
	drv, ok := godal.RasterDriver(godal.DriverName(driver))
	if !ok {
		return nil, errorf(StatusUnsupported, "this GDAL build has no %s driver (%s)", driver, missing)
	}
	s, err := ParseOptionSchema(drv.Metadata("DMD_CREATIONOPTIONLIST"))
	if err != nil {
		return nil, err
	}
	if schemas.known == nil {
		schemas.known = map[string]OptionSchema{}
	}
	schemas.known[driver] = s
	return s, nil
}

// COGSchema returns the creation options the installed GDAL's COG driver
// declares.
func COGSchema() (OptionSchema, error) { return driverSchema("COG", "GDAL >= 3.1 is needed") }

// CompressMethods lists the COMPRESS values the COG driver declares.
func CompressMethods() ([]string, error) {
	s, err := COGSchema()
	if err != nil {
		return nil, err
	}
	return s.Choices("COMPRESS"), nil
}
