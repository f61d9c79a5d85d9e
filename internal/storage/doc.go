// Package storage owns where rasters live: the names users write (paths,
// URLs, GDAL names) and their mapping to GDAL's virtual file systems, the
// per-prefix store options (credentials, endpoints, timeouts) and their
// pinning onto the threads that call GDAL, listing, existence and deletion
// of objects, cloudio's own HTTP range fetcher, the byte sources the TIFF
// decoder reads, and atomic publishing of what is written (a temporary
// name, then a rename or a complete upload, or an upload while it is
// written: S3Upload and AzureUpload say how internal/upload's clients
// reach an object). Its C helpers (vsi.c, vsi.h)
// follow gdalc's error convention; it does not import godal.
package storage
