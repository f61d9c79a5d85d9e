package raster

// Version is the library's own version.
const Version = "0.1.0"
