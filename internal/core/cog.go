package core

/*
#include <stdlib.h>
#include "translate.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"unsafe"

	"github.com/cloudio-dem/cloudio/internal/gdalc"
	"github.com/cloudio-dem/cloudio/internal/raster"
	"github.com/cloudio-dem/cloudio/internal/storage"
)

// DefaultCompress is the COMPRESS method when the caller names none.
const DefaultCompress = "DEFLATE"

// COGOptions are the rare parameters of a COG write.
type COGOptions struct {
	Compress string       // COG COMPRESS method, any case; "" means DefaultCompress
	Options  []string     // extra COG creation options, KEY=VALUE; they override every default
	Progress ProgressFunc // may be nil
}

// WriteCOG writes the raster src (a path or GDAL name) as a COG at dst,
// atomically.
func WriteCOG(src, dst string, o COGOptions) error {
	gdalc.Init()
	o, withStats, err := statisticsOption(o)
	if err != nil {
		return err
	}
	src, dst, err = copyNames(src, dst, "COG")
	if err != nil {
		return err
	}
	ds, err := OpenDataset(src)
	if err != nil {
		return err
	}
	defer ds.Close()
	info := ds.Info()
	// Bands of different types (a VRT's) become the type that holds them
	// all: GDAL's GeoTIFF has one type for every band, and would otherwise
	// cast the others to band 1's.
	var extra []string
	for b := 1; b <= int(info.Bands); b++ {
		if t := info.BandType(b); t != info.DType {
			if !gdalConverts(t, info.DType) {
				return raster.Errorf(raster.StatusUnsupported, "%q mixes %s bands with bands of other types, which GDAL before 3.7 cannot convert exactly", src, t)
			}
			extra = []string{"-ot", gdalType(info.DType).String()}
		}
	}
	// GDAL's predictors take whole bytes only: a source of NBITS=1 or 12
	// samples, which the COG keeps, gets none unless the caller asks.
	if user, err := raster.ParseOptions(o.Options); err == nil && ds.nbits != 0 {
		if _, set := findOption(user, "PREDICTOR"); !set {
			o.Options = append(o.Options[:len(o.Options):len(o.Options)], "PREDICTOR=NO")
		}
	}
	var stats *statisticsStep
	if withStats {
		stats = datasetStatistics(ds)
	}
	var verify func(stop <-chan struct{}) error
	if ds.raw != nil {
		verify = func(stop <-chan struct{}) error {
			// The statistics pass, when it read the raster through the
			// direct decoder, decoded every block of it with the checks
			// verify makes: only the overviews and masks remain.
			return ds.raw.verify(ds.name.User, stats.decodedRaster(), stop)
		}
	}
	var encode func(*storage.AtomicOutput, []raster.Option, ProgressFunc) (bool, error)
	if extra == nil {
		encode = func(out *storage.AtomicOutput, opts []raster.Option, progress ProgressFunc) (bool, error) {
			return encodeDataset(ds, cogEncoding{opts: opts, scan: withStats, progress: progress}, out)
		}
	}
	return writeCOG(source{name: ds.name, extra: extra, stats: stats, verify: verify, encode: encode}, dst, info.DType, info.Bands, o)
}

// WriteCOGBuffer writes bands x rows x cols values of dtype, band-sequential
// and row-major, as a COG at dst. GDAL reads buf in place, through a MEM
// dataset over it, during the call only.
func WriteCOGBuffer(buf []byte, dtype raster.DType, bands, rows, cols int64, g raster.Georef, dst string, o COGOptions) error {
	gdalc.Init()
	o, withStats, err := statisticsOption(o)
	if err != nil {
		return err
	}
	g, options, err := raster.TakeNoDataOption(g, o.Options)
	if err != nil {
		return err
	}
	o.Options = options
	src, err := newMemSource(buf, dtype, bands, rows, cols, g)
	if err != nil {
		return err
	}
	defer src.release()
	if dst, err = storage.OutputName("destination", dst); err != nil {
		return err
	}
	var stats *statisticsStep
	if withStats {
		stats = &statisticsStep{run: func(ProgressFunc) ([][]string, error) {
			return bufferStatistics(buf, dtype, bands, rows, cols, g.NoData), nil
		}}
	}
	encode := func(out *storage.AtomicOutput, opts []raster.Option, progress ProgressFunc) (bool, error) {
		return encodeCOG(bufferSource(buf, dtype, bands, rows, cols, g.NoData, src), cogEncoding{opts: opts, scan: withStats, progress: progress}, out)
	}
	return writeCOG(source{ds: src.ds, stats: stats, encode: encode}, dst, dtype, bands, o)
}

// checkBuffer validates the shape of a caller's buffer of dtype values.
func checkBuffer(buf []byte, dtype raster.DType, bands, rows, cols int64) error {
	if err := raster.CheckDType(dtype); err != nil {
		return err
	}
	if bands <= 0 || rows <= 0 || cols <= 0 || bands > raster.MaxRasterSide || rows > raster.MaxRasterSide || cols > raster.MaxRasterSide {
		return raster.Errorf(raster.StatusInvalidArgument, "buffer shape bands=%d rows=%d cols=%d: every size must be in 1..%d", bands, rows, cols, raster.MaxRasterSide)
	}
	want, ok := raster.BufferSize(dtype, bands, rows, cols)
	if !ok || uint64(len(buf)) != want {
		return raster.Errorf(raster.StatusInvalidArgument, "buffer holds %d bytes, but %d x %d x %d %s values need %d", len(buf), bands, rows, cols, dtype, want)
	}
	return nil
}

// memSource is a caller's buffer seen by GDAL as a MEM dataset, in place,
// georeferenced.
type memSource struct {
	ds  C.GDALDatasetH
	pin runtime.Pinner
}

// newMemSource validates the buffer's shape and georeferencing and wraps
// it; release it when GDAL is done with it.
func newMemSource(buf []byte, dtype raster.DType, bands, rows, cols int64, g raster.Georef) (*memSource, error) {
	if err := checkBuffer(buf, dtype, bands, rows, cols); err != nil {
		return nil, err
	}
	wkt, err := crsWKT(g.CRS)
	if err != nil {
		return nil, err
	}
	georef := (*C.cloudioGeoref)(C.calloc(1, C.size_t(unsafe.Sizeof(C.cloudioGeoref{})))) // C memory, as gdalc.Errors says
	defer C.free(unsafe.Pointer(georef))
	if g.GeoTransform != nil {
		georef.has_geotransform = 1
		for i, v := range g.GeoTransform {
			georef.geotransform[i] = C.double(v)
		}
	}
	if wkt != "" {
		georef.wkt = C.CString(wkt)
		defer C.free(unsafe.Pointer(georef.wkt))
	}
	if g.NoData != nil {
		if err := g.NoData.In(dtype); err != nil {
			return nil, err
		}
		georef.has_nodata, georef.nodata = 1, C.double(g.NoData.Float)
		georef.nodata_int64, georef.nodata_uint64 = C.longlong(g.NoData.Int64Value()), C.ulonglong(g.NoData.Uint64Value())
	}
	m := &memSource{}
	m.pin.Pin(&buf[0])
	errs := gdalc.NewErrors()
	defer errs.Free()
	m.ds = C.cloudioMemDataset(unsafe.Pointer(&buf[0]), C.int(gdalType(dtype)), C.int(gdalc.CBool(gdalType(dtype) != dtype)),
		C.int(bands), C.int(rows), C.int(cols), georef, (*C.cloudioErrors)(errs.C()))
	if m.ds == nil {
		m.pin.Unpin()
		return nil, errs.Report().Err("cannot use the buffer as a raster", raster.StatusInvalidArgument)
	}
	return m, nil
}

func (m *memSource) release() {
	C.cloudioCloseDataset(m.ds)
	m.pin.Unpin()
}

// source is what writeCOG translates: the raster GDAL opens by name, or ds
// when it is not nil, with extra GDALTranslate arguments. stats, when not
// nil, computes the statistics the COG records, before GDAL reads the
// source. verify, when not nil, checks the source for damage while GDAL
// translates it (GDAL reads some damaged blocks as garbage without an
// error): damage cancels the translation and fails the write, and the COG
// is published only once verify has passed. encode, when not nil, writes
// the COG with cloudio's encoder instead (see encode.go), or says it does
// not implement it (encoded false): then GDAL's COG driver does.
type source struct {
	name   storage.Name
	ds     C.GDALDatasetH
	extra  []string
	stats  *statisticsStep
	verify func(stop <-chan struct{}) error
	encode func(out *storage.AtomicOutput, opts []raster.Option, progress ProgressFunc) (encoded bool, err error)
}

// writeCOG writes src, dtype x bands, as a COG at dst.
func writeCOG(src source, dst string, dtype raster.DType, bands int64, o COGOptions) error {
	opts, err := COGCreationOptions(o.Compress, dtype, bands, o.Options)
	if err != nil {
		return err
	}
	out, err := storage.NewAtomicOutput(dst)
	if err != nil {
		return err
	}
	encoded := false
	if src.encode != nil {
		encoded, err = src.encode(out, opts, o.Progress)
	}
	if !encoded && err == nil {
		var md [][]string
		var progress ProgressFunc
		md, progress, err = src.stats.metadata(o.Progress)
		if err == nil {
			err = translateVerified(src, md, out.Tmp, opts, progress)
		}
	}
	if err != nil {
		out.Discard()
		return out.Friendly(err)
	}
	return out.Commit()
}

// translateVerified translates src to dst (see translateToCOG) while
// src.verify, if any, checks it; the first failure is the error.
func translateVerified(src source, bandMetadata [][]string, dst string, opts []raster.Option, progress ProgressFunc) error {
	if src.verify == nil {
		return translateToCOG(src.name, src.ds, bandMetadata, dst, opts, src.extra, progress)
	}
	verified, stop := make(chan error, 1), make(chan struct{})
	var damaged atomic.Bool
	go func() {
		var err error
		defer func() {
			if p := recover(); p != nil {
				err = raster.Recovered(p)
			}
			damaged.Store(err != nil)
			verified <- err
		}()
		err = src.verify(stop)
	}()
	err := translateToCOG(src.name, src.ds, bandMetadata, dst, opts, src.extra, func(fraction float64, message string) bool {
		return !damaged.Load() && (progress == nil || progress(fraction, message))
	})
	if err != nil {
		close(stop)
	}
	if damage := <-verified; damage != nil {
		err = damage // also when the translation stopped because of it
	}
	return err
}

// predictorMethods take a PREDICTOR in GDAL's COG driver.
var predictorMethods = []string{"LZW", "DEFLATE", "ZSTD"}

// COGCreationOptions merges cloudio's defaults for dtype with the caller's
// compress and options (which override every default) and validates the
// result against what the installed COG driver declares and against what
// the method can encode. The defaults: COMPRESS, NUM_THREADS=ALL_CPUS,
// BIGTIFF=IF_SAFER, OVERVIEW_RESAMPLING by DefaultOverviewResampling
// (unless RESAMPLING is given) and PREDICTOR for LZW, DEFLATE and ZSTD.
func COGCreationOptions(compress string, dtype raster.DType, bands int64, extra []string) ([]raster.Option, error) {
	schema, err := COGSchema()
	if err != nil {
		return nil, err
	}
	if compress == "" {
		compress = DefaultCompress
	}
	compress = strings.ToUpper(strings.TrimSpace(compress))
	if methods := schema.Choices("COMPRESS"); !contains(methods, compress) {
		return nil, raster.Errorf(raster.StatusInvalidArgument, "unknown compress %q: this GDAL's COG driver offers %s", compress, strings.Join(methods, ", "))
	}
	user, err := raster.ParseOptions(extra)
	if err != nil {
		return nil, err
	}
	opts := []raster.Option{{Key: "COMPRESS", Value: compress}, {Key: "NUM_THREADS", Value: "ALL_CPUS"}, {Key: "BIGTIFF", Value: "IF_SAFER"}}
	for _, u := range user {
		opts = raster.SetOption(opts, u)
	}
	effective, _ := findOption(opts, "COMPRESS")
	effective = strings.ToUpper(strings.TrimSpace(effective))
	if err := compressionSuits(effective, dtype, bands); err != nil {
		return nil, err
	}
	_, overviews := findOption(user, "OVERVIEW_RESAMPLING")
	if _, generic := findOption(user, "RESAMPLING"); !overviews && !generic {
		opts = raster.SetOption(opts, raster.Option{Key: "OVERVIEW_RESAMPLING", Value: DefaultOverviewResampling(dtype)})
	}
	if _, set := findOption(user, "PREDICTOR"); !set {
		if contains(predictorMethods, effective) {
			predictor := "STANDARD"
			if dtype.IsFloat() {
				predictor = "FLOATING_POINT"
			}
			opts = raster.SetOption(opts, raster.Option{Key: "PREDICTOR", Value: predictor})
		}
	}
	return schema.Validate(opts)
}

func findOption(opts []raster.Option, key string) (string, bool) {
	for _, o := range opts {
		if o.Key == key {
			return o.Value, true
		}
	}
	return "", false
}

// copyNames validates and maps the names of a copy of src to a new format
// at dst, which must not be the source (checkNotSource).
func copyNames(src, dst, format string) (string, string, error) {
	src, err := storage.InputName("source", src)
	if err != nil {
		return "", "", err
	}
	if dst, err = storage.OutputName("destination", dst); err != nil {
		return "", "", err
	}
	if err := storage.CheckNotSource(src, dst, format); err != nil {
		return "", "", err
	}
	return src, dst, nil
}

// compressionSuits rejects a method the data cannot take. It must be checked
// up front: GDAL compresses tiles on worker threads (NUM_THREADS), whose
// errors escape the calling thread's error handler, and the write would
// "succeed" with blank tiles.
func compressionSuits(method string, dtype raster.DType, bands int64) error {
	switch {
	case method == "JPEG" && (dtype != raster.Byte || (bands != 1 && bands != 3 && bands != 4)):
		return raster.Errorf(raster.StatusInvalidArgument, "compress JPEG needs Byte data with 1, 3 or 4 bands, not %d band(s) of %s", bands, dtype)
	case method == "WEBP" && (dtype != raster.Byte || (bands != 3 && bands != 4)):
		return raster.Errorf(raster.StatusInvalidArgument, "compress WEBP needs Byte data with 3 or 4 bands, not %d band(s) of %s", bands, dtype)
	case strings.HasPrefix(method, "LERC") && (dtype == raster.Int64 || dtype == raster.UInt64):
		return raster.Errorf(raster.StatusInvalidArgument, "compress %s cannot encode 64-bit integers (%s): use DEFLATE or ZSTD", method, dtype)
	}
	return nil
}

// translateToCOG runs GDAL's COG driver from src (or srcDS, when not nil)
// to dst, with extra GDALTranslate arguments. The overview method goes into
// the file's metadata as OVERVIEW_RESAMPLING (the item rio-cogeo writes), so
// that readers can tell how overviews were made.
func translateToCOG(src storage.Name, srcDS C.GDALDatasetH, bandMetadata [][]string, dst string, opts []raster.Option, extra []string, progress ProgressFunc) error {
	args := append([]string{"-of", "COG"}, extra...)
	for _, o := range opts {
		args = append(args, "-co", o.String())
	}
	args = append(args, overviewMetadataArgs(opts)...)
	return translate(src, srcDS, bandMetadata, dst, args, progress, fmt.Sprintf("cannot write COG %q", dst))
}

// overviewMetadataArgs are the GDALTranslate arguments that record how a
// COG written with opts computes its overviews.
func overviewMetadataArgs(opts []raster.Option) []string {
	if method := overviewResampling(opts); method != "" {
		return []string{"-mo", "OVERVIEW_RESAMPLING=" + method}
	}
	return nil
}

// translate runs GDALTranslate with args from src (or srcDS, when not nil)
// to dst in one C call; bandMetadata (KEY=VALUE items per band, or nil)
// goes onto the source first. GDAL's errors are reported in context.
func translate(src storage.Name, srcDS C.GDALDatasetH, bandMetadata [][]string, dst string, args []string, progress ProgressFunc, context string) error {
	argv := gdalc.NewStrings(args)
	defer argv.Free()
	csrc, cdst := C.CString(src.GDAL), C.CString(dst)
	defer C.free(unsafe.Pointer(csrc))
	defer C.free(unsafe.Pointer(cdst))
	ps := &progressState{fn: progress}
	handle, release := ps.cHandle()
	defer release()
	errs := gdalc.NewErrors()
	defer errs.Free()
	md := newCBandMetadata(bandMetadata)
	defer md.free()
	storage.Pinned(src.Store, func() {
		C.cloudioTranslate(csrc, srcDS, md.c, cdst, (**C.char)(argv.C()), handle, (*C.cloudioErrors)(errs.C()))
	})
	if err := ps.err(); err != nil {
		return err
	}
	if errs.Failed() {
		return errs.Report().Err(context, raster.StatusIO)
	}
	return nil
}
