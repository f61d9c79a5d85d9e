package core

/*
#include <stdlib.h>
#include <gdal.h>
*/
import "C"

import (
	"fmt"
	"strings"
	"unsafe"

	"github.com/airbusgeo/godal"

	"github.com/cloudio-dem/cloudio/internal/raster"
)

// CopyFlags say what a tile writer takes from the raster its output is
// computed from (see TileWriter.SetSource).
type CopyFlags int

const (
	// CopyMetadata copies band descriptions, units, scale and offset, band
	// and dataset metadata (not the source's statistics, which describe
	// other values) and colour tables.
	CopyMetadata CopyFlags = 1 << iota
	// CopyMask copies the source's per-dataset mask, for the windows written
	// without a mask of their own.
	CopyMask
)

// gmfPerDataset is GDAL's GMF_PER_DATASET: a mask shared by all bands that
// is neither an alpha band nor nodata (0x02 alone).
const gmfPerDataset = 0x02

// notCopied are metadata items that describe the source's values or how
// its file was made, not the output's.
func notCopied(key string) bool {
	return strings.HasPrefix(key, "STATISTICS_") || key == "OVERVIEW_RESAMPLING" || key == "OVR_RESAMPLING_ALG"
}

// copyRasterInfo returns the colour interpretations of src's bands bands
// (the roles of dst's bands; bands nil: no band-level copy) and, with
// CopyMetadata, gives dst's band i the description, unit, scale and offset,
// metadata and colour table of src's band bands[i], and dst src's dataset
// metadata. A palette needs its colour table, which GeoTIFF keeps for a
// one-band raster only (it makes further bands alpha): without
// CopyMetadata, for a type that cannot hold palette indices or beside other
// bands, the band is Undefined.
func copyRasterInfo(src, dst *godal.Dataset, bands []int, flags CopyFlags, dtype raster.DType) ([]godal.ColorInterp, error) {
	var ge gdalErrors
	log := godal.ErrLogger(ge.handler())
	metadata := flags&CopyMetadata != 0
	srcBands, dstBands := src.Bands(), dst.Bands()
	interps := make([]godal.ColorInterp, len(bands))
	for i, b := range bands {
		s, d := srcBands[b-1], dstBands[i]
		interps[i] = s.ColorInterp()
		if interps[i] == godal.CIPalette {
			if !metadata || len(bands) > 1 || (dtype != raster.Byte && dtype != raster.UInt16) {
				interps[i] = godal.CIUndefined
			} else if d.SetColorTable(s.ColorTable(), log) != nil {
				return nil, ge.Err(fmt.Sprintf("cannot copy the colour table of band %d", b), raster.StatusIO)
			}
		}
		if !metadata {
			continue
		}
		if desc := s.Description(); desc != "" && d.SetDescription(desc, log) != nil {
			return nil, ge.Err(fmt.Sprintf("cannot copy the description of band %d", b), raster.StatusIO)
		}
		if st := s.Structure(); (st.Scale != 1 || st.Offset != 0) && d.SetScaleOffset(st.Scale, st.Offset, log) != nil {
			return nil, ge.Err(fmt.Sprintf("cannot copy the scale and offset of band %d", b), raster.StatusIO)
		}
		if unit := unitType(s); unit != "" && setUnitType(d, unit) != nil {
			return nil, raster.Errorf(raster.StatusIO, "cannot copy the unit %q of band %d", unit, b)
		}
		if err := copyMetadata(s.Metadatas(), d.SetMetadata, &ge); err != nil {
			return nil, err
		}
	}
	if metadata {
		if err := copyMetadata(src.Metadatas(), dst.SetMetadata, &ge); err != nil {
			return nil, err
		}
	}
	return interps, nil
}

// colorInterpNames are the roles GDALTranslate's -colorinterp sets; a staging
// GeoTIFF cannot hold the others (MINISBLACK reads band 1 as Gray) and the
// COG driver copies what the translation reports.
var colorInterpNames = map[godal.ColorInterp]string{godal.CIUndefined: "undefined", godal.CIGray: "gray",
	godal.CIRed: "red", godal.CIGreen: "green", godal.CIBlue: "blue", godal.CIAlpha: "alpha"}

// colorInterpArgs are GDALTranslate's arguments that give the output's
// bands these roles; palettes (and roles -colorinterp lacks) come from the
// staging file itself.
func colorInterpArgs(interps []godal.ColorInterp) []string {
	var args []string
	for i, ci := range interps {
		if name, ok := colorInterpNames[ci]; ok {
			args = append(args, fmt.Sprintf("-colorinterp_%d", i+1), name)
		}
	}
	return args
}

func copyMetadata(items map[string]string, set func(string, string, ...godal.MetadataOption) error, ge *gdalErrors) error {
	for k, v := range items {
		if !notCopied(k) && set(k, v, godal.ErrLogger(ge.handler())) != nil {
			return ge.Err(fmt.Sprintf("cannot copy metadata item %s", k), raster.StatusIO)
		}
	}
	return nil
}

// A godal.Band is its GDAL handle alone (this fails to compile otherwise):
// bandHandle reads it for the calls godal v0.0.18 lacks (the unit type).
var _ = [1]struct{}{}[unsafe.Sizeof(godal.Band{})-unsafe.Sizeof(uintptr(0))]

func bandHandle(b godal.Band) C.GDALRasterBandH { return *(*C.GDALRasterBandH)(unsafe.Pointer(&b)) }

func unitType(b godal.Band) string { return C.GoString(C.GDALGetRasterUnitType(bandHandle(b))) }

func setUnitType(b godal.Band, unit string) error {
	cu := C.CString(unit)
	defer C.free(unsafe.Pointer(cu))
	if C.GDALSetRasterUnitType(bandHandle(b), cu) != C.CE_None {
		return raster.Errorf(raster.StatusIO, "cannot set unit %q", unit)
	}
	return nil
}
