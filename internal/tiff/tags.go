package tiff

// Tags cloudio reads or writes (TIFF 6.0, the GeoTIFF 1.1 keys, and GDAL's
// private tags).
const (
	TagNewSubfileType      = 254
	TagImageWidth          = 256
	TagImageLength         = 257
	TagBitsPerSample       = 258
	TagCompression         = 259
	TagPhotometric         = 262
	TagStripOffsets        = 273
	TagSamplesPerPixel     = 277
	TagRowsPerStrip        = 278
	TagStripByteCounts     = 279
	TagPlanarConfig        = 284
	TagPredictor           = 317
	TagColorMap            = 320
	TagTileWidth           = 322
	TagTileLength          = 323
	TagTileOffsets         = 324
	TagTileByteCounts      = 325
	TagExtraSamples        = 338
	TagSampleFormat        = 339
	TagJPEGTables          = 347
	TagModelPixelScale     = 33550
	TagModelTiepoint       = 33922
	TagModelTransformation = 34264
	TagGeoKeyDirectory     = 34735
	TagGeoDoubleParams     = 34736
	TagGeoASCIIParams      = 34737
	TagGDALMetadata        = 42112
	TagGDALNoData          = 42113
	TagLERCParameters      = 50674
)

// Field types of an IFD entry.
const (
	TypeByte      = 1
	TypeASCII     = 2
	TypeShort     = 3
	TypeLong      = 4
	TypeRational  = 5
	TypeSByte     = 6
	TypeUndefined = 7
	TypeSShort    = 8
	TypeSLong     = 9
	TypeSRational = 10
	TypeFloat     = 11
	TypeDouble    = 12
	TypeIFD       = 13
	TypeLong8     = 16
	TypeSLong8    = 17
	TypeIFD8      = 18
)

// typeSizes is the byte size of one value of each field type; 0 for an
// unknown type.
var typeSizes = [...]int{TypeByte: 1, TypeASCII: 1, TypeShort: 2, TypeLong: 4, TypeRational: 8, TypeSByte: 1,
	TypeUndefined: 1, TypeSShort: 2, TypeSLong: 4, TypeSRational: 8, TypeFloat: 4, TypeDouble: 8, TypeIFD: 4,
	TypeLong8: 8, TypeSLong8: 8, TypeIFD8: 8}

// TypeSize is the byte size of one value of field type t, 0 when t is not
// a TIFF field type.
func TypeSize(t uint16) int {
	if int(t) >= len(typeSizes) {
		return 0
	}
	return typeSizes[t]
}

// Compression schemes.
const (
	CompressionNone       = 1
	CompressionLZW        = 5
	CompressionJPEG       = 7
	CompressionDeflate    = 8
	CompressionPackBits   = 32773
	CompressionDeflateOld = 32946
	CompressionLERC       = 34887
	CompressionLZMA       = 34925
	CompressionZSTD       = 50000
	CompressionWEBP       = 50001
	CompressionJXL        = 50002
)

// Predictors.
const (
	PredictorNone          = 1
	PredictorHorizontal    = 2
	PredictorFloatingPoint = 3
)

// Photometric interpretations.
const (
	PhotometricMinIsWhite = 0
	PhotometricMinIsBlack = 1
	PhotometricRGB        = 2
	PhotometricPalette    = 3
	PhotometricMask       = 4
	PhotometricYCbCr      = 6
)

// Sample formats.
const (
	SampleUint  = 1
	SampleInt   = 2
	SampleFloat = 3
)

// Planar configurations.
const (
	PlanarContig   = 1 // pixel interleaved: a block holds every sample of its pixels
	PlanarSeparate = 2 // band interleaved: a block holds one sample
)

// NewSubfileType bits.
const (
	SubfileReduced = 1 // an overview
	SubfilePage    = 2
	SubfileMask    = 4 // a transparency mask
)

// Tags the COG encoder refuses to copy from a template, besides the ones
// above that describe the image structure.
const (
	TagSubIFDs          = 330
	TagYCbCrSubSampling = 530
)
