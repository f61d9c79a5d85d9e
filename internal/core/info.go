package core

/*
#include <stdlib.h>
#include <string.h>
#include <cpl_conv.h>
#include <cpl_error.h>
#include <gdal.h>
#include <gdal_utils.h>
#include "translate.h"

// gdalinfo -json of name, to be freed with CPLFree; NULL on failure, with
// GDAL's errors in errs. godal has no GDALInfo, nor a band's unit type.
static char *cloudioGDALInfo(const char *name, cloudioErrors *errs) {
  cloudioErrorsBegin(errs);
  char *json = NULL;
  GDALDatasetH ds = GDALOpenEx(name, GDAL_OF_RASTER | GDAL_OF_READONLY | GDAL_OF_VERBOSE_ERROR, NULL, NULL, NULL);
  if (ds != NULL) {
    char *argv[] = {"-json", "-nogcp", "-norat", "-noct", "-nofl", NULL};
    GDALInfoOptions *opts = GDALInfoOptionsNew(argv, NULL);
    json = GDALInfo(ds, opts);
    GDALInfoOptionsFree(opts);
    GDALClose(ds);
  }
  cloudioErrorsEnd(errs);
  return json;
}
*/
import "C"

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unsafe"

	"github.com/cloudio-dem/cloudio/internal/gdalc"
	"github.com/cloudio-dem/cloudio/internal/raster"
	"github.com/cloudio-dem/cloudio/internal/storage"
)

// Description is what info tells about a raster: plain data that encodes
// as JSON as it is. Numbers that JSON cannot hold (NaN, infinities) are
// the strings "NaN", "Infinity" and "-Infinity", as gdalinfo writes them.
type Description struct {
	Driver             string     `json:"driver"` // GDAL's short name, e.g. "GTiff"
	Rows               int64      `json:"rows"`
	Cols               int64      `json:"cols"`
	Bands              int        `json:"bands"`
	DType              string     `json:"dtype"`        // band 1's, as numpy names it ("float32"); GDAL's name for types numpy lacks
	GeoTransform       *[6]Number `json:"geotransform"` // GDAL's affine coefficients; null without
	CRS                *CRSInfo   `json:"crs"`          // null without
	NoData             *Number    `json:"nodata"`       // band 1's; null without
	Block              [2]int64   `json:"block"`        // band 1's (rows, cols)
	Overviews          [][2]int64 `json:"overviews"`    // band 1's (rows, cols), largest first
	Compress           *string    `json:"compress"`     // GDAL's COMPRESSION, null for none
	Predictor          *int       `json:"predictor"`
	OverviewResampling *string    `json:"overview_resampling"` // as recorded in the file, null when it is not
	BandInfo           []BandInfo `json:"band_info"`
	COG                bool       `json:"cog"` // what Validate says
}

// CRSInfo is a coordinate reference system.
type CRSInfo struct {
	WKT  string `json:"wkt"`  // WKT2, as gdalinfo prints it
	EPSG *int   `json:"epsg"` // null when the CRS has no EPSG code
}

// BandInfo describes one band.
type BandInfo struct {
	Description string      `json:"description"`
	Unit        string      `json:"unit"`
	ColorInterp string      `json:"color_interp"` // GDAL's name, e.g. "Gray"
	NoData      *Number     `json:"nodata"`
	Mask        []string    `json:"mask"`       // GDAL's mask flags when the band has a mask of its own (PER_DATASET, ALPHA), else null
	Statistics  *Statistics `json:"statistics"` // as recorded in the file (never computed here), null when none are
}

// Statistics are a band's STATISTICS_* metadata; fields the file lacks are
// null.
type Statistics struct {
	Minimum      *Number `json:"minimum"`
	Maximum      *Number `json:"maximum"`
	Mean         *Number `json:"mean"`
	StdDev       *Number `json:"stddev"`
	ValidPercent *Number `json:"valid_percent"`
}

// Number is a float64 that encodes as gdalinfo writes numbers: always with
// a fraction or an exponent, NaN and the infinities as strings.
type Number float64

// MarshalJSON writes finite values as numbers, others as strings.
func (n Number) MarshalJSON() ([]byte, error) {
	v := float64(n)
	switch {
	case math.IsNaN(v):
		return []byte(`"NaN"`), nil
	case math.IsInf(v, 1):
		return []byte(`"Infinity"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Infinity"`), nil
	}
	text := strconv.FormatFloat(v, 'g', -1, 64)
	if !strings.ContainsAny(text, ".e") {
		text += ".0" // a float in every JSON reader, as gdalinfo writes it
	}
	return []byte(text), nil
}

// UnmarshalJSON reads numbers and gdalinfo's strings for the rest.
func (n *Number) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		v, err := strconv.ParseFloat(s, 64) // "NaN", "Infinity", "-Infinity", and numbers as text
		*n = Number(v)
		return err
	}
	var v float64
	err := json.Unmarshal(b, &v)
	*n = Number(v)
	return err
}

// gdalInfo is the part of gdalinfo's JSON that Describe reads.
type gdalInfo struct {
	Driver           string                       `json:"driverShortName"`
	Size             [2]int64                     `json:"size"` // x, y
	GeoTransform     *[6]Number                   `json:"geoTransform"`
	CoordinateSystem *struct{ WKT string }        `json:"coordinateSystem"`
	Metadata         map[string]map[string]string `json:"metadata"`
	STAC             struct {
		EPSG *int `json:"proj:epsg"`
	} `json:"stac"`
	Bands []struct {
		Block       [2]int64                     `json:"block"` // x, y
		Type        string                       `json:"type"`
		ColorInterp string                       `json:"colorInterpretation"`
		Description string                       `json:"description"`
		Unit        string                       `json:"unit"`
		NoData      *Number                      `json:"noDataValue"`
		Overviews   []struct{ Size [2]int64 }    `json:"overviews"`
		Mask        *struct{ Flags []string }    `json:"mask"`
		Metadata    map[string]map[string]string `json:"metadata"`
	} `json:"bands"`
}

// numpyNames maps GDAL's type names to numpy's.
var numpyNames = map[string]string{"Byte": "uint8", "Int8": "int8", "UInt16": "uint16", "Int16": "int16",
	"UInt32": "uint32", "Int32": "int32", "UInt64": "uint64", "Int64": "int64", "Float32": "float32",
	"Float64": "float64", "CFloat32": "complex64", "CFloat64": "complex128"}

// Describe tells what the raster name is (a path or any URL cloudio
// reads), from its metadata alone: no pixel is read, statistics are those
// the file records. Errors as OpenDataset's.
func Describe(name string) (*Description, error) {
	gdalc.Init()
	n, err := storage.Resolve("dataset", name)
	if err != nil {
		return nil, err
	}
	name = n.User
	ds, resolved, err := openResolved(n) // classifies a missing or unreadable name, resolves Zarr stores
	if err != nil {
		return nil, err
	}
	ds.Close()
	cname := C.CString(resolved.GDAL)
	defer C.free(unsafe.Pointer(cname))
	errs := gdalc.NewErrors()
	defer errs.Free()
	var text *C.char
	storage.Pinned(resolved.Store, func() { text = C.cloudioGDALInfo(cname, (*C.cloudioErrors)(errs.C())) })
	if text == nil {
		return nil, errs.Report().Err(fmt.Sprintf("cannot describe %q", name), raster.StatusIO)
	}
	defer C.CPLFree(unsafe.Pointer(text))
	var g gdalInfo
	if err := json.Unmarshal([]byte(C.GoString(text)), &g); err != nil {
		return nil, raster.Errorf(raster.StatusInternal, "cannot read gdalinfo's description of %q: %v", name, err)
	}
	if len(g.Bands) == 0 {
		return nil, raster.Errorf(raster.StatusInvalidArgument, "%q has no raster bands", name)
	}
	d := describe(&g)
	if resolved.GDAL != n.GDAL {
		d.Driver = "Zarr" // a store of one array per band, seen through the VRT that stacks them
	}
	if d.Driver == "GTiff" {
		v, err := Validate(resolved.GDAL, FullCheckAuto)
		if err != nil {
			return nil, err
		}
		d.COG = v.Valid()
	}
	return d, nil
}

// describe maps gdalinfo's description to ours.
func describe(g *gdalInfo) *Description {
	b1 := g.Bands[0]
	d := &Description{Driver: g.Driver, Rows: g.Size[1], Cols: g.Size[0], Bands: len(g.Bands), DType: b1.Type,
		GeoTransform: g.GeoTransform, NoData: b1.NoData, Block: [2]int64{b1.Block[1], b1.Block[0]},
		Overviews: [][2]int64{}}
	if name, ok := numpyNames[b1.Type]; ok {
		d.DType = name
	}
	if g.CoordinateSystem != nil && g.CoordinateSystem.WKT != "" {
		d.CRS = &CRSInfo{WKT: g.CoordinateSystem.WKT, EPSG: g.STAC.EPSG}
	}
	for _, o := range b1.Overviews {
		d.Overviews = append(d.Overviews, [2]int64{o.Size[1], o.Size[0]})
	}
	structure := g.Metadata["IMAGE_STRUCTURE"]
	if c, ok := structure["COMPRESSION"]; ok {
		d.Compress = &c
	}
	if p, err := strconv.Atoi(structure["PREDICTOR"]); err == nil {
		d.Predictor = &p
	}
	// GDAL records no overview resampling; rio-cogeo does, under these names.
	for _, key := range []struct{ domain, item string }{{"IMAGE_STRUCTURE", "OVERVIEW_RESAMPLING"},
		{"", "OVERVIEW_RESAMPLING"}, {"", "OVR_RESAMPLING_ALG"}} {
		if v, ok := g.Metadata[key.domain][key.item]; ok {
			v = strings.ToLower(v)
			d.OverviewResampling = &v
			break
		}
	}
	for _, b := range g.Bands {
		bi := BandInfo{Description: b.Description, Unit: b.Unit, ColorInterp: b.ColorInterp, NoData: b.NoData,
			Statistics: recordedStatistics(b.Metadata[""])}
		if b.Mask != nil {
			bi.Mask = b.Mask.Flags
		}
		d.BandInfo = append(d.BandInfo, bi)
	}
	return d
}

// recordedStatistics reads a band's STATISTICS_* items; nil without any.
func recordedStatistics(md map[string]string) *Statistics {
	var s Statistics
	found := false
	for _, f := range []struct {
		key   string
		field **Number
	}{{"STATISTICS_MINIMUM", &s.Minimum}, {"STATISTICS_MAXIMUM", &s.Maximum}, {"STATISTICS_MEAN", &s.Mean},
		{"STATISTICS_STDDEV", &s.StdDev}, {"STATISTICS_VALID_PERCENT", &s.ValidPercent}} {
		if v, err := strconv.ParseFloat(strings.TrimSpace(md[f.key]), 64); err == nil {
			n := Number(v)
			*f.field, found = &n, true
		}
	}
	if !found {
		return nil
	}
	return &s
}
