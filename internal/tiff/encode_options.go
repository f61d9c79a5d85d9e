package tiff

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
)

// ErrNotImplemented marks COG creation options the encoder does not
// implement; such COGs are for GDAL's COG driver.
var ErrNotImplemented = errors.New("not implemented by the COG encoder")

func notImplemented(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrNotImplemented, fmt.Sprintf(format, args...))
}

// ignoredCOGOptions change nothing in a COG the encoder writes, in GDAL
// either: they tune compressions, warping or statistics it does not use.
// GEOTIFF_VERSION belongs to whoever makes the Tags (TemplateTags).
var ignoredCOGOptions = map[string]bool{"QUALITY": true, "OVERVIEW_QUALITY": true, "MAX_Z_ERROR": true,
	"MAX_Z_ERROR_OVERVIEW": true, "WARP_RESAMPLING": true, "ADD_ALPHA": true, "GEOTIFF_VERSION": true}

// ApplyCOGOptions sets c from GDAL COG driver creation options (KEY=VALUE,
// GDAL 3.6's semantics and defaults), after c's raster (size, bands,
// sample type, Tags) is set. An error that wraps ErrNotImplemented means
// the options ask for something the encoder does not do (LZW, JPEG, WEBP,
// LERC, CUBIC or other resamplings, a tiling scheme, reprojection, ...):
// GDAL's COG driver writes that COG. OVERVIEWS=AUTO (the default) reuses
// a source's own overviews in GDAL: the encoder always computes them, so a
// caller whose source has overviews passes IGNORE_EXISTING or goes to
// GDAL.
func (c *Config) ApplyCOGOptions(options []string) error {
	kind, err := kindOf(c.SampleFormat, c.BitsPerSample)
	if err != nil {
		return notImplemented("%v", err)
	}
	o := map[string]string{}
	for _, kv := range options {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return notImplemented("creation option %q is not KEY=VALUE", kv)
		}
		o[strings.ToUpper(strings.TrimSpace(k))] = strings.ToUpper(strings.TrimSpace(v))
	}
	take := func(key, def string) string {
		v, ok := o[key]
		delete(o, key)
		if !ok {
			return def
		}
		return v
	}
	c.BlockSize, c.OverviewCount, c.BigTIFF, c.Workers = 512, -1, BigTIFFAuto, runtime.GOMAXPROCS(0)
	if v := take("BLOCKSIZE", "512"); v != "512" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 16 || n > 4096 || n%16 != 0 {
			return notImplemented("BLOCKSIZE=%s is not a multiple of 16 in 16..4096", v)
		}
		c.BlockSize = n
	}
	compress := take("COMPRESS", "LZW")
	methods := map[string]int{"NONE": CompressionNone, "DEFLATE": CompressionDeflate, "ZSTD": CompressionZSTD}
	var ok bool
	if c.Compression, ok = methods[compress]; !ok {
		return notImplemented("COMPRESS=%s", compress)
	}
	if v := take("OVERVIEW_COMPRESS", compress); v != compress {
		return notImplemented("OVERVIEW_COMPRESS=%s differs from COMPRESS=%s", v, compress)
	}
	c.Level = 0
	if v, given := o["LEVEL"]; given {
		delete(o, "LEVEL")
		if r, ok := compressionLevels[c.Compression]; ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < r.min || n > r.max {
				return notImplemented("LEVEL=%s for COMPRESS=%s", v, compress)
			}
			c.Level = n
		}
	}
	switch v := take("PREDICTOR", "FALSE"); v {
	case "YES", "ON", "TRUE":
		c.Predictor = PredictorHorizontal
		if kind.isFloat() {
			c.Predictor = PredictorFloatingPoint
		}
	case "STANDARD", "2":
		c.Predictor = PredictorHorizontal
	case "FLOATING_POINT", "3":
		c.Predictor = PredictorFloatingPoint
	default:
		c.Predictor = PredictorNone
	}
	switch v := take("BIGTIFF", "IF_NEEDED"); v {
	case "IF_NEEDED", "IF_SAFER":
	case "YES":
		c.BigTIFF = BigTIFFYes
	case "NO":
		c.BigTIFF = BigTIFFNo
	default:
		return notImplemented("BIGTIFF=%s", v)
	}
	if v := take("NUM_THREADS", ""); v != "" && v != "ALL_CPUS" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return notImplemented("NUM_THREADS=%s", v)
		}
		c.Workers = n
	}
	switch v := take("OVERVIEWS", "AUTO"); v {
	case "AUTO", "IGNORE_EXISTING":
	case "NONE":
		c.OverviewCount = 0
	default:
		return notImplemented("OVERVIEWS=%s", v)
	}
	if v, given := o["OVERVIEW_COUNT"]; given {
		delete(o, "OVERVIEW_COUNT")
		n, err := strconv.Atoi(v)
		if err != nil {
			return notImplemented("OVERVIEW_COUNT=%s", v)
		}
		if c.OverviewCount != 0 && n >= 0 {
			c.OverviewCount = n
		}
	}
	// GDAL's COG driver: NEAREST for a colour table, CUBIC otherwise.
	resampling := "CUBIC"
	if c.Tags.photometric() == PhotometricPalette {
		resampling = "NEAREST"
	}
	resampling = take("OVERVIEW_RESAMPLING", take("RESAMPLING", resampling))
	c.Resampling = map[string]Resampling{"NEAREST": ResampleNearest, "AVERAGE": ResampleAverage}[resampling]
	if c.Resampling == 0 && len(overviewSizes(c.Width, c.Height, int64(c.BlockSize), c.OverviewCount)) > 0 {
		return notImplemented("OVERVIEW_RESAMPLING=%s", resampling)
	}
	for key, want := range map[string]string{"SPARSE_OK": "FALSE", "STATISTICS": "AUTO", "TILING_SCHEME": "CUSTOM"} {
		if v := take(key, want); v != want && !(key == "SPARSE_OK" && (v == "NO" || v == "OFF")) {
			return notImplemented("%s=%s", key, v)
		}
	}
	for key := range o {
		if !ignoredCOGOptions[key] {
			return notImplemented("creation option %s", key)
		}
	}
	return nil
}

// photometric is the PhotometricInterpretation among t.Every, -1 without.
func (t Tags) photometric() int {
	for _, tag := range t.Every {
		if tag.Code == TagPhotometric && tag.Type == TypeShort && len(tag.Data) == 2 {
			return int(binary.LittleEndian.Uint16(tag.Data))
		}
	}
	return -1
}
