// Package core is cloudio's orchestration over GDAL (through godal):
// datasets shared by many goroutines, the tile reader and its direct
// GeoTIFF decoding (with internal/tiff), the tile writer, COG and Zarr
// writing, validation, description and statistics. It builds on the
// packages below it: raster (values and arithmetic), gdalc (GDAL's C API
// and error convention), storage (names, stores, fetching, publishing),
// tiff (TIFF structure and blocks) and stats.
package core
