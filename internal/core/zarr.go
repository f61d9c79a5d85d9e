package core

/*
#include <stdlib.h>
#include <cpl_vsi.h>
*/
import "C"

import (
	"cmp"
	"fmt"
	"io/fs"
	"math"
	"os"
	pathpkg "path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unsafe"

	"github.com/airbusgeo/godal"

	"github.com/cloudio-dem/cloudio/internal/gdalc"
	"github.com/cloudio-dem/cloudio/internal/raster"
	"github.com/cloudio-dem/cloudio/internal/storage"
)

// Zarr stores are written with GDAL's Zarr driver (Zarr V2 by default). On
// GDAL 3.6 its raster (non-multidimensional) writer stores each band as a
// 2-D array of its own, "<name>" for one band and "<name>_band1" ...
// "<name>_bandN" for several, next to 1-D X and Y coordinate arrays that
// carry the geotransform, with the CRS and nodata in the arrays' attributes.
// openResolved turns such a store back into one raster of N bands.

const (
	// DefaultZarrChunk is the chunk side when the caller names none: 512 x 512
	// cells are 1 MiB of float32, a good object size for object stores.
	DefaultZarrChunk = 512
	// DefaultZarrCompress is the compressor when the caller names none.
	DefaultZarrCompress = "ZSTD"
)

// ZarrOptions are the rare parameters of a Zarr write.
type ZarrOptions struct {
	ChunkRows, ChunkCols int64        // chunk (tile) size; 0 means DefaultZarrChunk
	Compress             string       // the Zarr driver's COMPRESS, any case; "" means DefaultZarrCompress
	Options              []string     // extra Zarr creation options, KEY=VALUE; they override the defaults
	Progress             ProgressFunc // may be nil
}

// WriteZarr writes the raster src (a path, URL or GDAL name, a Zarr store
// too) as a Zarr store at dst (a local path or an object-store URL),
// atomically.
func WriteZarr(src, dst string, o ZarrOptions) error {
	gdalc.Init()
	src, dst, err := copyNames(src, dst, "Zarr store")
	if err != nil {
		return err
	}
	ds, err := OpenDataset(src)
	if err != nil {
		return err
	}
	info := ds.Info()
	g := raster.Georef{CRS: ds.CRS()}
	if info.HasGeoTransform {
		g.GeoTransform = &info.GeoTransform
	}
	if nd, ok := ds.NoData(1); ok {
		g.NoData = &nd
	}
	var reader *TileReader
	defer func() {
		if reader == nil { // a reader closes its dataset
			ds.Close()
		}
	}()
	return writeZarr(info, g, dst, o, func(chunkRows, chunkCols int64) (chunkSource, error) {
		r, err := newTileReader(ds, ReaderOptions{TileRows: chunkRows, TileCols: chunkCols})
		if err != nil {
			return nil, err
		}
		reader = r
		return r, nil
	})
}

// WriteZarrBuffer writes bands x rows x cols values of dtype, band-sequential
// and row-major, as a Zarr store at dst; buf is read during the call only.
func WriteZarrBuffer(buf []byte, dtype raster.DType, bands, rows, cols int64, g raster.Georef, dst string, o ZarrOptions) error {
	gdalc.Init()
	if err := checkBuffer(buf, dtype, bands, rows, cols); err != nil {
		return err
	}
	g, options, err := raster.TakeNoDataOption(g, o.Options)
	if err != nil {
		return err
	}
	o.Options = options
	if dst, err = storage.OutputName("destination", dst); err != nil {
		return err
	}
	info := raster.Info{Rows: rows, Cols: cols, Bands: bands, DType: dtype}
	return writeZarr(info, g, dst, o, func(chunkRows, chunkCols int64) (chunkSource, error) {
		tiling, err := raster.NewTiling(rows, cols, chunkRows, chunkCols, 0)
		return &bufferChunks{buf: buf, info: info, tiling: tiling}, err
	})
}

// chunkSource hands out the chunks of a Zarr write in tiling order: a
// TileReader, or bufferChunks.
type chunkSource interface {
	Next(buf []byte) (Tile, bool, error)
	Len() uint64
	BufferLen() int64
	Close() error
}

// bufferChunks cuts the chunks out of a caller's band-sequential buffer.
type bufferChunks struct {
	buf    []byte
	info   raster.Info
	tiling *raster.Tiling
	next   uint64
}

func (b *bufferChunks) Len() uint64 { return b.tiling.Len() }

func (b *bufferChunks) BufferLen() int64 {
	w := b.tiling.At(0)
	return b.info.Bands * w.Rows * w.Cols * int64(b.info.DType.Size())
}

func (b *bufferChunks) Next(out []byte) (Tile, bool, error) {
	if b.next == b.tiling.Len() {
		return Tile{}, false, nil
	}
	w := b.tiling.At(b.next)
	b.next++
	size := int64(b.info.DType.Size())
	row := w.Cols * size
	for band, k := int64(0), int64(0); band < b.info.Bands; band++ {
		for r := w.RowOff; r < w.RowOff+w.Rows; r, k = r+1, k+row {
			start := ((band*b.info.Rows+r)*b.info.Cols + w.ColOff) * size
			copy(out[k:k+row], b.buf[start:start+row])
		}
	}
	return Tile{Window: w, Padded: w}, true, nil
}

func (b *bufferChunks) Close() error { return nil }

// writeZarr writes the chunks of a raster (info, g) that open hands out into
// a new Zarr store at dst, one whole chunk per write, in row-major chunk
// order. It does not use GDALTranslate: GDAL 3.6's copy cuts chunks by the
// source's blocks, and its Zarr driver cannot reread a compressed chunk it
// wrote in part ("Decompressed tile ... has not expected size after
// filters", GDAL issue 11016).
func writeZarr(info raster.Info, g raster.Georef, dst string, o ZarrOptions, open func(chunkRows, chunkCols int64) (chunkSource, error)) error {
	if info.DType == raster.Int64 || info.DType == raster.UInt64 || gdalType(info.DType) != info.DType {
		return raster.Errorf(raster.StatusUnsupported, "writing %s rasters to Zarr is not supported yet (GDAL 3.6's Zarr driver has no signed bytes)", info.DType)
	}
	if g.NoData != nil { // Zarr keeps nodata as the array's fill_value, of the array's type
		if err := g.NoData.In(info.DType); err != nil {
			return err
		}
	}
	wkt, err := crsWKT(g.CRS)
	if err != nil {
		return err
	}
	chunkRows, chunkCols, opts, err := ZarrCreationOptions(o, info.Rows, info.Cols, zarrArrayName(dst))
	if err != nil {
		return err
	}
	out, err := newZarrOutput(dst)
	if err != nil {
		return err
	}
	chunks, err := open(chunkRows, chunkCols)
	if err != nil {
		return err
	}
	defer chunks.Close()
	copied := o.Progress
	if out.remote && o.Progress != nil {
		copied = scaledProgress(o.Progress, 0, 0.5) // the upload is the other half
	}
	if err := copyChunks(chunks, out.tmp, info, g, wkt, opts, copied); err != nil {
		out.discard()
		return out.friendly(err)
	}
	return out.commit(o.Progress)
}

func copyChunks(reader chunkSource, path string, info raster.Info, g raster.Georef, wkt string, opts []raster.Option, progress ProgressFunc) error {
	creation := make([]string, len(opts))
	for i, o := range opts {
		creation[i] = o.String()
	}
	var ge gdalErrors
	h, err := godal.Create(godal.DriverName("Zarr"), path, int(info.Bands), godal.DataType(info.DType), int(info.Cols), int(info.Rows),
		godal.CreationOption(creation...), godal.ErrLogger(ge.handler()))
	if err != nil {
		return ge.Err(fmt.Sprintf("cannot create Zarr store %q", path), raster.StatusIO)
	}
	if err := setGeoref(h, g, wkt); err != nil {
		h.Close(godal.ErrLogger(ignoreErrors))
		return err
	}
	buf := make([]byte, reader.BufferLen())
	total := reader.Len()
	for i := uint64(1); ; i++ {
		t, ok, err := reader.Next(buf)
		if err != nil || !ok {
			if err == nil {
				break
			}
			h.Close(godal.ErrLogger(ignoreErrors))
			return err
		}
		w := t.Window
		n := int64(len(buf))
		if need := info.Bands * w.Rows * w.Cols * int64(info.DType.Size()); need < n {
			n = need
		}
		if err := h.Write(int(w.ColOff), int(w.RowOff), typedSlice(buf[:n], gdalType(info.DType)), int(w.Cols), int(w.Rows),
			godal.BandInterleaved(), godal.ErrLogger(ge.handler())); err != nil {
			h.Close(godal.ErrLogger(ignoreErrors))
			return ge.Err(fmt.Sprintf("cannot write chunk (row_off=%d, col_off=%d) of Zarr store %q", w.RowOff, w.ColOff, path), raster.StatusIO)
		}
		if progress != nil && !progress(float64(i)/float64(total), "") {
			h.Close(godal.ErrLogger(ignoreErrors))
			return raster.Errorf(raster.StatusCancelled, "cancelled by the progress callback")
		}
	}
	// Chunks still in GDAL's block cache are compressed and written now.
	if err := h.Close(godal.ErrLogger(ge.handler())); err != nil {
		return ge.Err(fmt.Sprintf("cannot finish Zarr store %q", path), raster.StatusIO)
	}
	return nil
}

// zarrArrayName names the store's array after the destination ("dem.zarr"
// holds "dem"), as GDAL does; left to GDAL it would be named after the
// temporary directory.
func zarrArrayName(dst string) string {
	base := pathpkg.Base(strings.TrimRight(filepath.ToSlash(dst), "/"))
	name := strings.TrimSuffix(base, pathpkg.Ext(base))
	if name == "" || name == "." || name == "/" {
		return "data"
	}
	return name
}

// ZarrCreationOptions merges cloudio's defaults (compressor, chunks clipped
// to the raster, the array's name) with the caller's options and validates
// them against what the installed Zarr driver declares. It returns the
// chunk size too.
func ZarrCreationOptions(o ZarrOptions, rows, cols int64, arrayName string) (int64, int64, []raster.Option, error) {
	schema, err := driverSchema("Zarr", "GDAL >= 3.4 with its Zarr driver is needed")
	if err != nil {
		return 0, 0, nil, err
	}
	compress := strings.ToUpper(strings.TrimSpace(o.Compress))
	if compress == "" {
		compress = DefaultZarrCompress
	}
	if methods := schema.Choices("COMPRESS"); !contains(methods, compress) {
		return 0, 0, nil, raster.Errorf(raster.StatusInvalidArgument, "unknown compress %q: this GDAL's Zarr driver offers %s", compress, strings.Join(methods, ", "))
	}
	chunkRows, chunkCols := o.ChunkRows, o.ChunkCols
	if chunkRows < 0 || chunkCols < 0 || chunkRows > raster.MaxRasterSide || chunkCols > raster.MaxRasterSide {
		return 0, 0, nil, raster.Errorf(raster.StatusInvalidArgument, "chunk_rows and chunk_cols must be positive (or 0 for the default %d), not %d x %d", DefaultZarrChunk, chunkRows, chunkCols)
	}
	user, err := raster.ParseOptions(o.Options)
	if err != nil {
		return 0, 0, nil, err
	}
	for _, u := range user {
		switch u.Key {
		case "BLOCKSIZE": // the option every writer takes: here the chunks' sides
			if chunkRows != 0 || chunkCols != 0 {
				return 0, 0, nil, raster.Errorf(raster.StatusInvalidArgument, "option BLOCKSIZE and chunk_rows / chunk_cols both set the chunk size: give one")
			}
			if chunkRows, chunkCols, err = zarrBlockSize(u.Value); err != nil {
				return 0, 0, nil, err
			}
		case "OVERVIEW_RESAMPLING":
			return 0, 0, nil, raster.Errorf(raster.StatusInvalidArgument, "option OVERVIEW_RESAMPLING does not apply: Zarr stores have no overviews")
		case "APPEND_SUBDATASET":
			return 0, 0, nil, raster.Errorf(raster.StatusInvalidArgument, "option APPEND_SUBDATASET: cloudio writes whole stores atomically and cannot append to one")
		}
	}
	if chunkRows == 0 {
		chunkRows = DefaultZarrChunk
	}
	if chunkCols == 0 {
		chunkCols = DefaultZarrChunk
	}
	chunkRows, chunkCols = min(chunkRows, rows), min(chunkCols, cols)
	opts := []raster.Option{{Key: "COMPRESS", Value: compress},
		{Key: "BLOCKSIZE", Value: fmt.Sprintf("%d,%d", chunkRows, chunkCols)}, // rows first: Zarr's (y, x) order
		{Key: "ARRAY_NAME", Value: arrayName}}
	for _, u := range user {
		if u.Key != "BLOCKSIZE" {
			opts = raster.SetOption(opts, u)
		}
	}
	opts, err = schema.ValidateAs("Zarr", opts)
	return chunkRows, chunkCols, opts, err
}

// zarrBlockSize reads BLOCKSIZE=N (square chunks) or "ROWS,COLS", as GDAL's
// Zarr driver lists chunk sides (rows first).
func zarrBlockSize(v string) (int64, int64, error) {
	parts := strings.Split(v, ",")
	var sides []int64
	for _, p := range parts {
		n, err := strconv.ParseInt(strings.TrimSpace(p), 10, 64)
		if err != nil || n <= 0 || n > raster.MaxRasterSide || len(parts) > 2 {
			return 0, 0, raster.Errorf(raster.StatusInvalidArgument, "invalid value %q for Zarr option BLOCKSIZE (expected a chunk side, or ROWS,COLS, of positive integers)", v)
		}
		sides = append(sides, n)
	}
	if len(sides) == 1 {
		return sides[0], sides[0], nil
	}
	return sides[0], sides[1], nil
}

func scaledProgress(fn ProgressFunc, lo, hi float64) ProgressFunc {
	return func(fraction float64, message string) bool { return fn(lo+(hi-lo)*fraction, message) }
}

// zarrOutput is a Zarr store (a directory of many files) written under a
// temporary name and published only once complete; a failed write leaves
// nothing at the destination:
//   - a local path: a temporary directory beside the destination, its files
//     fsynced, renamed to the destination;
//   - an object store (no renames; each object appears when its own upload
//     completes): a local temporary directory, uploaded at commit with every
//     chunk before any metadata, so that no reader ever opens a store with
//     chunks missing, and with what was uploaded deleted again on failure.
//
// An existing destination is refused, never replaced: a directory of many
// files cannot be swapped for another atomically, and writing a new store
// over an old one would mix their chunks.
type zarrOutput struct {
	dst, tmp string
	remote   bool
}

func newZarrOutput(dst string) (*zarrOutput, error) {
	suffix, err := storage.RandomSuffix()
	if err != nil {
		return nil, err
	}
	exists := raster.Errorf(raster.StatusInvalidArgument, "destination %q already exists: delete it first (a Zarr store is replaced by no write, so that its chunks never mix with another's)", dst)
	if storage.IsObjectStore(dst) {
		if err := storage.CheckBucket(dst); err != nil {
			return nil, err
		}
		if found, err := storage.StatFresh(dst); err != nil || found {
			return nil, cmp.Or(err, exists)
		}
		return &zarrOutput{dst: dst, tmp: filepath.Join(os.TempDir(), ".cloudio-zarr-"+suffix+".zarr"), remote: true}, nil
	}
	if storage.IsVSI(dst) {
		return nil, raster.Errorf(raster.StatusUnsupported, "Zarr stores can be written to a local path or an object store (s3://, gs://, az://), not to %q", dst)
	}
	if err := storage.CheckOutputDir(dst); err != nil {
		return nil, err
	}
	if _, err := os.Lstat(dst); err == nil {
		return nil, exists
	}
	return &zarrOutput{dst: dst, tmp: storage.SiblingTemp(dst, suffix)}, nil
}

func (o *zarrOutput) discard() { _ = os.RemoveAll(o.tmp) }

func (o *zarrOutput) friendly(err error) error {
	return (&storage.AtomicOutput{Dst: o.dst, Tmp: o.tmp}).Friendly(err)
}

// commit publishes the finished store at the destination.
func (o *zarrOutput) commit(progress ProgressFunc) error {
	defer o.discard()
	files, err := storeFiles(o.tmp)
	if err != nil {
		return raster.Errorf(raster.StatusIO, "cannot list the finished Zarr store for %q: %v", o.dst, err)
	}
	if o.remote {
		var uploaded ProgressFunc
		if progress != nil {
			uploaded = scaledProgress(progress, 0.5, 1)
		}
		return o.upload(files, uploaded)
	}
	for _, f := range files {
		if err := storage.SyncPath(filepath.Join(o.tmp, f)); err != nil {
			return raster.Errorf(raster.StatusIO, "cannot flush %q: %v", filepath.Join(o.dst, f), err)
		}
	}
	if err := os.Rename(o.tmp, o.dst); err != nil {
		return raster.Errorf(raster.StatusIO, "cannot move the finished Zarr store to %q: %v", o.dst, err)
	}
	_ = storage.SyncPath(filepath.Dir(o.dst))
	return nil
}

// storeFiles lists the files of a local store, relative to it, in upload
// order: chunks, then metadata, deepest first (the arrays' before the
// root's), the entry point readers open first (V2's consolidated
// .zmetadata, V3's root zarr.json) last.
func storeFiles(root string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, p)
		files = append(files, filepath.ToSlash(rel))
		return err
	})
	rank := func(f string) int {
		switch {
		case isZarrChunk(f):
			return 0
		case f == ".zmetadata" || f == "zarr.json":
			return math.MaxInt
		}
		return math.MaxInt - 1 - strings.Count(f, "/")
	}
	sort.SliceStable(files, func(i, j int) bool { return rank(files[i]) < rank(files[j]) })
	return files, err
}

// isZarrChunk tells a store's chunks from its metadata: V2 keeps metadata
// in dot files (.zarray, .zattrs, .zgroup, .zmetadata); V3 in zarr.json
// files, and GDAL 3.6's V3 (a draft of the spec) in zarr.json and meta/.
func isZarrChunk(f string) bool {
	base := pathpkg.Base(f)
	return !strings.HasPrefix(base, ".") && base != "zarr.json" && !strings.HasPrefix(f, "meta/")
}

// uploadWorkers keep several chunk uploads in flight: object stores are
// latency-bound.
const uploadWorkers = 4

// upload copies every file of the store to the object store, up to
// uploadWorkers chunks at once, then the metadata one by one in order. It
// reports progress on the calling goroutine. On failure or cancellation it
// deletes what it uploaded.
func (o *zarrOutput) upload(files []string, progress ProgressFunc) error {
	type result struct {
		file string
		err  error
	}
	var failure error
	var done []string
	handle := func(r result) {
		switch {
		case r.err != nil:
			if failure == nil || raster.StatusOf(failure) == raster.StatusCancelled {
				failure = r.err
			}
		case failure != nil: // finished after the failure: deleted below all the same
			done = append(done, r.file)
		default:
			done = append(done, r.file)
			if progress != nil && !progress(float64(len(done))/float64(len(files)), "uploading "+r.file) {
				failure = raster.Errorf(raster.StatusCancelled, "cancelled by the progress callback")
			}
		}
	}
	put := func(f string) result {
		return result{f, storage.Upload(filepath.Join(o.tmp, filepath.FromSlash(f)), o.dst+"/"+f)}
	}
	results := make(chan result, uploadWorkers)
	inFlight, next := 0, 0
	for ; next < len(files) && isZarrChunk(files[next]) && failure == nil; next++ {
		if inFlight == uploadWorkers {
			handle(<-results)
			inFlight--
		}
		inFlight++
		go func(f string) {
			res := result{file: f}
			defer func() {
				if p := recover(); p != nil {
					res.err = raster.Recovered(p)
				}
				results <- res
			}()
			raster.FaultPoint("zarr.upload")
			res = put(f)
		}(files[next])
	}
	for ; inFlight > 0; inFlight-- {
		handle(<-results)
	}
	for ; next < len(files) && failure == nil; next++ {
		handle(put(files[next]))
	}
	clearCache(o.dst) // later stats and listings must see the new store, or its absence
	if failure == nil {
		return nil
	}
	var left []string
	for _, f := range done {
		name := o.dst + "/" + f
		if storage.Unlink(name); storage.PathExists(name) {
			left = append(left, f)
		}
	}
	clearCache(o.dst)
	e, _ := failure.(*raster.Error)
	if len(left) > 0 {
		return raster.Errorf(e.Status, "cannot write Zarr store %q: %s; %d of the %d objects uploaded could not be deleted again (chunks only, no metadata, so no reader opens them as a store): %s",
			o.dst, e.Msg, len(left), len(done), strings.Join(left, ", "))
	}
	return raster.Errorf(e.Status, "cannot write Zarr store %q: %s", o.dst, e.Msg)
}

// clearCache drops GDAL's cached listings and stats of names under prefix.
func clearCache(prefix string) {
	cprefix := C.CString(prefix)
	defer C.free(unsafe.Pointer(cprefix))
	C.VSICurlPartialClearCache(cprefix)
}
