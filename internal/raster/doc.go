// Package raster holds the values every layer of cloudio speaks, and the
// arithmetic on them, in pure Go (no cgo, no GDAL): pixel data types and
// their cell conversions, windows and tilings, halo padding, nodata values,
// creation options, the description of a raster (Info) and of a read
// (ReadSpec), and the status codes and errors the C ABI reports.
package raster
