package core

import (
	"encoding/xml"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/airbusgeo/godal"

	"github.com/cloudio-dem/cloudio/internal/gdalc"
	"github.com/cloudio-dem/cloudio/internal/raster"
)

// optionSpec is one <Option> of a driver's DMD_CREATIONOPTIONLIST.
type optionSpec struct {
	Name   string `xml:"name,attr"`
	Type   string `xml:"type,attr"`
	Min    string `xml:"min,attr"`
	Max    string `xml:"max,attr"`
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
		return nil, raster.Errorf(raster.StatusInternal, "cannot parse the driver's creation option list: %v", err)
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
func (s OptionSchema) Validate(opts []raster.Option) ([]raster.Option, error) {
	return s.ValidateAs("COG", opts)
}

// ValidateAs checks that every option is declared and has a value of the
// declared kind and range (and within the limits of undeclaredLimits);
// select values are upper-cased to their canonical spelling and booleans
// become YES or NO. Messages name the driver's format and the option.
func (s OptionSchema) ValidateAs(format string, opts []raster.Option) ([]raster.Option, error) {
	out := make([]raster.Option, 0, len(opts))
	for _, o := range opts {
		spec, ok := s[o.Key]
		if !ok {
			return nil, raster.Errorf(raster.StatusInvalidArgument, "unknown %s creation option %q (known: %s)", format, o.Key, strings.Join(s.names(), ", "))
		}
		v, err := spec.check(s, o)
		if err == nil {
			if limit := undeclaredLimits[format][o.Key]; limit != nil {
				v, err = limit(v)
			}
		}
		if err != nil {
			return nil, raster.Errorf(raster.StatusInvalidArgument, "invalid value %q for %s option %s (%v)", o.Value, format, o.Key, err)
		}
		out = append(out, raster.Option{Key: o.Key, Value: v})
	}
	return out, nil
}

// check returns o's value in canonical form, or says what was expected.
func (spec optionSpec) check(s OptionSchema, o raster.Option) (string, error) {
	v := strings.TrimSpace(o.Value)
	switch spec.Type {
	case "string-select":
		choices := s.Choices(o.Key)
		if !contains(choices, strings.ToUpper(v)) {
			return "", fmt.Errorf("expected one of %s", strings.Join(choices, ", "))
		}
		return strings.ToUpper(v), nil
	case "boolean":
		switch strings.ToUpper(v) {
		case "YES", "TRUE", "ON", "1":
			return "YES", nil
		case "NO", "FALSE", "OFF", "0":
			return "NO", nil
		}
		return "", fmt.Errorf("expected YES or NO")
	case "int":
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return "", fmt.Errorf("expected an integer%s", spec.rangeText())
		}
		return v, spec.inRange(float64(n))
	case "float":
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) {
			return "", fmt.Errorf("expected a number%s", spec.rangeText())
		}
		return v, spec.inRange(f)
	}
	return v, nil
}

// inRange checks v against the declared min and max.
func (spec optionSpec) inRange(v float64) error {
	if lo, err := strconv.ParseFloat(spec.Min, 64); err == nil && v < lo {
		return fmt.Errorf("expected a value%s", spec.rangeText())
	}
	if hi, err := strconv.ParseFloat(spec.Max, 64); err == nil && v > hi {
		return fmt.Errorf("expected a value%s", spec.rangeText())
	}
	return nil
}

func (spec optionSpec) rangeText() string {
	switch {
	case spec.Min != "" && spec.Max != "":
		return fmt.Sprintf(" from %s to %s", spec.Min, spec.Max)
	case spec.Min != "":
		return " >= " + spec.Min
	case spec.Max != "":
		return " <= " + spec.Max
	}
	return ""
}

// undeclaredLimits are rules a driver enforces (or crashes on) without
// declaring them in its option list: each returns the canonical value or
// what was expected. They run after the declared checks.
var undeclaredLimits = map[string]map[string]func(string) (string, error){
	"COG": {
		"BLOCKSIZE":           checkBlockSize,
		"OVERVIEW_RESAMPLING": checkOverviewMethod,
		"RESAMPLING":          checkOverviewMethod,
		"NUM_THREADS":         checkThreads,
		"QUALITY":             checkQuality,
		"OVERVIEW_QUALITY":    checkQuality,
	},
}

// MaxBlockSize bounds a COG's tiles: larger ones defeat range reads, and
// GDAL allocates whole tiles (BLOCKSIZE=2^31 aborts the process).
const MaxBlockSize = 4096

// checkBlockSize: TIFF tiles are multiples of 16 cells (GDAL fails late
// otherwise, "Bad value 200 for TileWidth").
func checkBlockSize(v string) (string, error) {
	n, _ := strconv.ParseInt(v, 10, 64)
	if n%16 != 0 || n > MaxBlockSize {
		return "", fmt.Errorf("expected a multiple of 16 from 128 to %d", MaxBlockSize)
	}
	return v, nil
}

func checkThreads(v string) (string, error) {
	if strings.EqualFold(v, "ALL_CPUS") {
		return "ALL_CPUS", nil
	}
	if n, err := strconv.ParseInt(v, 10, 32); err != nil || n < 1 {
		return "", fmt.Errorf("expected ALL_CPUS or a number of threads >= 1")
	}
	return v, nil
}

func checkQuality(v string) (string, error) {
	if n, _ := strconv.ParseInt(v, 10, 64); n < 1 || n > 100 {
		return "", fmt.Errorf("expected a quality from 1 to 100")
	}
	return v, nil
}

func checkOverviewMethod(v string) (string, error) {
	methods := OverviewMethods()
	if m := strings.ToUpper(v); contains(methods, m) {
		return m, nil
	}
	return "", fmt.Errorf("expected an overview resampling method this GDAL offers: %s", strings.Join(methods, ", "))
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
	gdalc.Init()
	schemas.mu.Lock()
	defer schemas.mu.Unlock()
	if s, ok := schemas.known[driver]; ok {
		return s, nil
	}
	drv, ok := godal.RasterDriver(godal.DriverName(driver))
	if !ok {
		return nil, raster.Errorf(raster.StatusUnsupported, "this GDAL build has no %s driver (%s)", driver, missing)
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
