package tiff

import (
	"encoding/binary"
	"fmt"
)

// TemplateTags takes the Tags of a COG from the first IFD of a GeoTIFF
// that GDAL wrote for the same raster (any size: a 1 x 1 copy with the
// same bands, nodata, colour interpretation, colour table, metadata,
// geotransform and CRS), so that they are exactly the tags GDAL writes:
// everything but the image structure, the tags GDAL repeats in overviews
// into Every, the rest into Main.
func TemplateTags(f *File) (Tags, error) {
	var t Tags
	for _, e := range f.IFDs[0].Entries {
		if structuralTags[e.Tag] {
			continue
		}
		size := TypeSize(e.Type)
		if size == 0 {
			return Tags{}, fmt.Errorf("template: tag %d has field type %d, which the encoder cannot copy", e.Tag, e.Type)
		}
		data, err := f.raw(e, 0, e.Count)
		if err != nil {
			return Tags{}, fmt.Errorf("template: %w", err)
		}
		if f.Order == binary.BigEndian {
			swapValues(data, e.Type)
		}
		tag := Tag{Code: e.Tag, Type: e.Type, Count: e.Count, Data: data}
		if everyIFDTags[e.Tag] {
			t.Every = append(t.Every, tag)
		} else {
			t.Main = append(t.Main, tag)
		}
	}
	return t, nil
}

// swapValues turns big-endian values of field type t into little-endian
// ones (a rational is two 4-byte numbers).
func swapValues(data []byte, t uint16) {
	n := TypeSize(t)
	if t == TypeRational || t == TypeSRational {
		n = 4
	}
	for i := 0; i+n <= len(data); i += n {
		for a, b := i, i+n-1; a < b; a, b = a+1, b-1 {
			data[a], data[b] = data[b], data[a]
		}
	}
}
