// Package tiff owns the TIFF and BigTIFF structure of GeoTIFFs: the header,
// the chain of IFDs, tag values and the block (tile or strip) layout of each
// image. It reads files only through a Source (random access to bytes), so
// the same code serves local files, GDAL's virtual file systems and HTTP
// ranges, and it never imports godal.
//
// Every number a file holds is untrusted: counts, offsets and byte counts
// are checked against the file's size and against sane limits before
// anything is allocated or sliced, and a file that breaks them is an error
// that names the IFD, the tag or the block, never a panic.
package tiff
