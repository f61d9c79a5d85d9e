package core

import (
	"errors"

	"github.com/airbusgeo/godal"

	"github.com/cloudio-dem/cloudio/internal/raster"
	"github.com/cloudio-dem/cloudio/internal/storage"
	"github.com/cloudio-dem/cloudio/internal/tiff"
)

// directDecode enables the direct GeoTIFF block decoder (internal/tiff);
// tests turn it off to compare with GDAL's own reads.
var directDecode = true

// directReader reads a GeoTIFF's blocks itself, for every reader of a
// dataset at once, with internal/tiff: the layout and block offsets come
// from cloudio's own TIFF parser, which bounds every number the file holds
// by its size; the blocks come through the fastest source for the name: the
// local file, cloudio's HTTP fetcher, or GDAL's virtual file system.
type directReader struct {
	blocks   *tiff.Reader
	dec      *tiff.Decoder
	tiff     *tiff.File           // the structure of the file
	files    *storage.FileSources // where the header and the blocks come from
	inFlight int                  // block reads at once
}

// openDirect sets up direct decoding of n, which GDAL opened as h (info),
// with at most inFlight block reads at once; nil when the decoder does not
// handle the layout or does not see the raster as GDAL does, and reads then
// go through GDAL.
func openDirect(n storage.Name, h *godal.Dataset, info raster.Info, fill []byte, inFlight int) *directReader {
	if !directDecode || h.Driver().ShortName() != "GTiff" {
		return nil
	}
	src, err := storage.OpenFileSources(n)
	if err != nil {
		return nil
	}
	r := &directReader{files: src}
	if err := r.open(src.Header, h, info, fill); err != nil {
		r.close()
		return nil
	}
	r.inFlight = inFlight
	r.blocks = tiff.NewReader(r.dec, src.Blocks, inFlight)
	return r
}

// open parses the file's first IFD and sets up its decoder, unless its
// layout is one the decoder declines or differs from GDAL's view of it.
func (r *directReader) open(header tiff.Source, h *godal.Dataset, info raster.Info, fill []byte) error {
	file, err := tiff.Open(header, tiff.DefaultLimits)
	if err != nil {
		return err
	}
	r.tiff = file
	im, err := file.Image(0)
	if err != nil {
		return err
	}
	if im.Width != info.Cols || im.Height != info.Rows || int64(im.SamplesPerPixel) != info.Bands ||
		im.BlockWidth != info.BlockCols || im.BlockHeight != info.BlockRows || sampleType(im) != info.DType {
		return errors.New("the file's first IFD is not the raster GDAL sees")
	}
	for _, b := range h.Bands() {
		st := b.Structure()
		if raster.DType(st.DataType) != raster.DType(h.Structure().DataType) || st.BlockSizeX != int(info.BlockCols) || st.BlockSizeY != int(info.BlockRows) {
			return errors.New("bands differ in type or block size")
		}
	}
	r.dec, err = tiff.NewDecoder(im, fill)
	return err
}

// sampleType is the data type of an image's samples, 0 for one cloudio has
// none for.
func sampleType(im *tiff.Image) raster.DType {
	return sampleTypes[[2]int{im.SampleFormat, im.BitsPerSample}]
}

// sampleTypes are the TIFF sample formats and sizes of cloudio's types.
var sampleTypes = map[[2]int]raster.DType{
	{tiff.SampleUint, 8}: raster.Byte, {tiff.SampleInt, 8}: raster.Int8,
	{tiff.SampleUint, 16}: raster.UInt16, {tiff.SampleInt, 16}: raster.Int16,
	{tiff.SampleUint, 32}: raster.UInt32, {tiff.SampleInt, 32}: raster.Int32,
	{tiff.SampleUint, 64}: raster.UInt64, {tiff.SampleInt, 64}: raster.Int64,
	{tiff.SampleFloat, 32}: raster.Float32, {tiff.SampleFloat, 64}: raster.Float64,
}

// read reads window w of bands (1-based) into buf, band-sequential and
// row-major, in the raster's own type.
func (r *directReader) read(name string, w raster.Window, bands []int, buf []byte) error {
	samples := make([]int, len(bands))
	for i, b := range bands {
		samples[i] = b - 1
	}
	err := r.blocks.Read(tiff.Window{RowOff: w.RowOff, ColOff: w.ColOff, Rows: w.Rows, Cols: w.Cols}, samples, buf)
	if err == nil {
		return nil
	}
	status := raster.StatusIO
	var p *tiff.Panic
	if errors.As(err, &p) {
		status = raster.StatusInternal
	}
	return raster.Errorf(status, "cannot read window (row_off=%d, col_off=%d, n_rows=%d, n_cols=%d) of %q: %s",
		w.RowOff, w.ColOff, w.Rows, w.Cols, name, err.Error())
}

// verify decodes every block of every image of the file that the decoder
// handles (the raster, and its overviews, which GDAL's COG driver copies),
// to find damage: GDAL reads some damaged blocks as garbage without an error.
// Images the decoder declines or cannot parse are left to GDAL. rasterRead
// skips the raster (the first image), which a complete read through r has
// checked already. stop ends it early, with no error.
func (r *directReader) verify(name string, rasterRead bool, stop <-chan struct{}) error {
	for i := range r.tiff.IFDs {
		if i == 0 && rasterRead {
			continue
		}
		im, err := r.tiff.Image(i)
		if err != nil {
			continue
		}
		dec, err := tiff.NewDecoder(im, make([]byte, im.BitsPerSample/8))
		if err != nil {
			continue
		}
		blocks := tiff.NewReader(dec, r.files.Blocks, r.inFlight)
		err = blocks.Check(stop)
		blocks.Close()
		dec.Close()
		if err != nil {
			status := raster.StatusIO
			var p *tiff.Panic
			if errors.As(err, &p) {
				status = raster.StatusInternal
			}
			return raster.Errorf(status, "%q is damaged: %s", name, err.Error())
		}
	}
	return nil
}

func (r *directReader) close() {
	if r != nil {
		r.blocks.Close()
		r.dec.Close()
		r.files.Close()
	}
}
