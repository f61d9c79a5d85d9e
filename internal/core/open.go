package core

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/airbusgeo/godal"

	"github.com/cloudio-dem/cloudio/internal/raster"
	"github.com/cloudio-dem/cloudio/internal/storage"
)

// Opening a raster by its resolved name (storage.Name): classified
// failures, and a Zarr store's arrays stacked into the bands of one raster.

// openRaster opens the raster n names read-only, with failures classified: a name that
// does not exist is NOT_FOUND, one GDAL cannot read is IO.
func openRaster(n storage.Name) (*godal.Dataset, error) {
	name := n.GDAL
	var ge gdalErrors
	var ds *godal.Dataset
	var err error
	storage.Pinned(n.Store, func() { ds, err = godal.Open(name, godal.RasterOnly(), godal.ErrLogger(ge.handler())) })
	if err == nil {
		return ds, nil
	}
	status := raster.StatusIO
	if ge.NoAnswer() { // asking again would only wait as long again
		return nil, ge.Err(fmt.Sprintf("cannot open raster %q: no answer from its server (unreachable, or it timed out)", name), raster.StatusIO)
	}
	if _, statErr := os.Stat(name); errors.Is(statErr, fs.ErrNotExist) {
		found, err := storage.StatFresh(name)
		if err == nil && !found {
			err = storage.Unreachable(name)
		}
		if err != nil {
			return nil, raster.Errorf(raster.StatusIO, "cannot open raster %q: %s", name, err.Error())
		}
		if !found {
			status = raster.StatusNotFound
		}
	}
	e := ge.Err(fmt.Sprintf("cannot open raster %q", name), status)
	if raster.StatusOf(e) == raster.StatusInvalidArgument {
		e = &raster.Error{Status: status, Msg: e.Error()}
	}
	return nil, e
}

var (
	// GDAL's names of the arrays that hold the bands of one raster:
	// "<name>_band<N>" (or "Band<N>" without ARRAY_NAME) for 2-D arrays...
	zarrBandArray = regexp.MustCompile(`^ZARR:(".*"):/(.*?)(_band|Band)(\d+)$`)
	// ... and "<array>:<index>" for the 2-D slices of a 3-D array.
	zarrArraySlice = regexp.MustCompile(`^ZARR:(".*"):/(.*):(\d+)$`)
)

// openResolved opens n as openRaster does and returns the name the raster
// can be opened by again (in the same store). A Zarr store with one 2-D array opens as
// it is; one whose arrays are the bands of one raster (GDAL's own layout for
// several bands, or the slices of one 3-D array) opens as an in-memory VRT
// that stacks them, so that every reader sees all bands.
func openResolved(n storage.Name) (*godal.Dataset, storage.Name, error) {
	name := n.GDAL
	if err := storage.Answers(n.Store); err != nil {
		return nil, n, raster.Errorf(raster.StatusIO, "cannot open raster %q: %s", name, err.Error())
	}
	ds, err := openRaster(n)
	if err != nil {
		return nil, n, err
	}
	if ds.Structure().NBands > 0 || ds.Driver().ShortName() != "Zarr" {
		return ds, n, nil
	}
	subdatasets := ds.Metadatas(godal.Domain("SUBDATASETS"))
	ds.Close()
	var arrays []string
	for i := 1; ; i++ {
		sub, ok := subdatasets[fmt.Sprintf("SUBDATASET_%d_NAME", i)]
		if !ok {
			break
		}
		arrays = append(arrays, sub)
	}
	bands, err := zarrBands(name, arrays)
	if err != nil {
		return nil, n, err
	}
	stacked, err := stackBands(n, bands)
	if err != nil {
		return nil, n, err
	}
	ds, err = openRaster(n.Opening(stacked))
	if err != nil {
		return nil, n, err
	}
	return ds, n.Opening(stacked), nil
}

// zarrBands picks, from a store's subdatasets, those that are the bands of
// one raster, in band order.
func zarrBands(store string, arrays []string) ([]string, error) {
	for _, layout := range []struct {
		re          *regexp.Regexp
		index, from int // submatch of the band number, and the first number
	}{{zarrBandArray, 4, 1}, {zarrArraySlice, 3, 0}} {
		byIndex := map[int]string{}
		family := ""
		for _, a := range arrays {
			m := layout.re.FindStringSubmatch(a)
			if m == nil {
				continue
			}
			n, err := strconv.Atoi(m[layout.index])
			if err != nil {
				continue
			}
			key := strings.Join(m[1:layout.index], "\x00")
			if family == "" {
				family = key
			}
			if key == family {
				byIndex[n] = a
			}
		}
		var bands []string
		for n := layout.from; byIndex[n] != ""; n++ {
			bands = append(bands, byIndex[n])
		}
		if len(bands) > 0 && len(bands) == len(byIndex) {
			return bands, nil
		}
	}
	if len(arrays) == 0 {
		return nil, raster.Errorf(raster.StatusIO, "Zarr store %q holds no raster array", store)
	}
	return nil, raster.Errorf(raster.StatusInvalidArgument, "Zarr store %q holds several arrays that are not the bands of one raster: open one by its GDAL name, one of %s", store, strings.Join(arrays, ", "))
}

// stackBands is a VRT (as XML, which GDAL opens as a dataset name) whose
// bands are the given single-band rasters, which must agree in size and
// type; georeferencing comes from the first.
func stackBands(n storage.Name, bands []string) (string, error) {
	store := n.GDAL
	var first godal.DatasetStructure
	var b strings.Builder
	esc := func(s string) string {
		var e strings.Builder
		_ = xml.EscapeText(&e, []byte(s))
		return e.String()
	}
	for i, name := range bands {
		ds, err := openRaster(n.Opening(name))
		if err != nil {
			return "", err
		}
		st := ds.Structure()
		if i == 0 {
			first = st
			fmt.Fprintf(&b, `<VRTDataset rasterXSize="%d" rasterYSize="%d">`, st.SizeX, st.SizeY)
			if wkt := ds.Projection(); wkt != "" {
				fmt.Fprintf(&b, "<SRS>%s</SRS>", esc(wkt))
			}
			if gt, err := ds.GeoTransform(godal.ErrLogger(ignoreErrors)); err == nil {
				coefficients := make([]string, len(gt))
				for i, v := range gt {
					coefficients[i] = strconv.FormatFloat(v, 'g', -1, 64)
				}
				fmt.Fprintf(&b, "<GeoTransform>%s</GeoTransform>", strings.Join(coefficients, ","))
			}
		}
		if st.SizeX != first.SizeX || st.SizeY != first.SizeY || st.DataType != first.DataType || st.NBands != 1 {
			ds.Close()
			return "", raster.Errorf(raster.StatusIO, "Zarr store %q: band array %s is %d x %d %s, unlike the first band's %d x %d %s",
				store, name, st.SizeY, st.SizeX, raster.DType(st.DataType), first.SizeY, first.SizeX, raster.DType(first.DataType))
		}
		fmt.Fprintf(&b, `<VRTRasterBand dataType="%s" band="%d" blockXSize="%d" blockYSize="%d">`, raster.DType(st.DataType), i+1, st.BlockSizeX, st.BlockSizeY)
		if nodata := readNoData(ds.Bands()[0], raster.DType(st.DataType)); nodata.ok {
			fmt.Fprintf(&b, "<NoDataValue>%s</NoDataValue>", nodata.value)
		}
		fmt.Fprintf(&b, `<SimpleSource><SourceFilename relativeToVRT="0">%s</SourceFilename><SourceBand>1</SourceBand></SimpleSource></VRTRasterBand>`, esc(name))
		ds.Close()
	}
	b.WriteString("</VRTDataset>")
	return b.String(), nil
}
