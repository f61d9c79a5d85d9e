// Package upload streams a COG into an object store while the encoder
// (internal/tiff) produces it, so that a COG bound for a store never exists
// on local disk: S3 through a multipart upload (S3Sink), Azure through a
// block blob (AzureSink). Both are tiff.Sinks.
//
// The encoder fills the sections of the file (the overview levels, then the
// full resolution) as tiles are encoded and knows the head (header and IFDs)
// only at the end. The sinks cut every section into parts as it fills and
// upload each part as soon as it is full, under part numbers reserved for
// the section, so that the parts of a section fall in file order between the
// head and the sections after it whatever their real sizes turn out to be.
// What is not a full part when the file ends (the head, the start and the
// last bytes of each section, the small overview levels) is held in memory
// and uploaded at Finish, which then completes the object in one request:
// until then nothing appears at the key, and Abort (or any failure, or the
// cancellation of the context) leaves nothing behind.
//
// Nothing is written to local disk. The memory a sink holds is bounded, and
// independent of the raster's size beyond the part size (see S3Sink and
// AzureSink for the numbers).
package upload
