package core

import (
	"errors"
	"strings"

	"github.com/cloudio-dem/cloudio/internal/gdalc"
	"github.com/cloudio-dem/cloudio/internal/raster"
	"github.com/cloudio-dem/cloudio/internal/storage"
	"github.com/cloudio-dem/cloudio/internal/tiff"
)

// Validation is the verdict of GDAL's COG rules on one file, in the words
// of GDAL's own validator: errors make it an invalid COG, warnings do not.
type Validation struct {
	Errors, Warnings []string
}

// Valid reports a file without errors.
func (v Validation) Valid() bool { return len(v.Errors) == 0 }

// FullCheck says whether Validate checks the ghost header's claims against
// the bytes of every block (a few bytes read around each block).
type FullCheck int

const (
	// FullCheckAuto checks local files and /vsimem/ fully and remote ones
	// not, as GDAL's validator does by default.
	FullCheckAuto FullCheck = iota
	FullCheckYes
	FullCheckNo
)

func (c FullCheck) on(name string) bool {
	switch c {
	case FullCheckYes:
		return true
	case FullCheckNo:
		return false
	}
	return !storage.IsVSI(name) || strings.HasPrefix(name, "/vsimem/")
}

// Validate applies GDAL's COG rules (tiff.CheckCOG) to the file name: a
// path or any URL cloudio reads. A name that does not exist is NOT_FOUND;
// one that exists but is no TIFF file (another format, a directory) is
// invalid; a file that cannot be read is IO.
func Validate(name string, full FullCheck) (Validation, error) {
	gdalc.Init()
	if full != FullCheckAuto && full != FullCheckYes && full != FullCheckNo {
		return Validation{}, raster.Errorf(raster.StatusInvalidArgument, "full check %d is none of auto (0), full (1) and quick (2)", full)
	}
	name, err := storage.InputName("dataset", name)
	if err != nil {
		return Validation{}, err
	}
	src, err := storage.OpenVSISource(name)
	if errors.Is(err, storage.ErrNotAFile) {
		return Validation{Errors: []string{"The file is not a GeoTIFF: it is a directory, not a file"}}, nil
	}
	if err != nil {
		return Validation{}, err
	}
	defer src.Close()
	f, err := tiff.Open(src, tiff.DefaultLimits)
	var malformed *tiff.Error
	if errors.As(err, &malformed) {
		return Validation{Errors: []string{"The file is not a GeoTIFF: " + malformed.Msg}}, nil
	}
	if err != nil {
		return Validation{}, readFailure(name, err)
	}
	report, err := tiff.CheckCOG(f, tiff.COGCheck{Full: full.on(name), ExternalOverviews: storage.PathExists(name + ".ovr")})
	if err != nil {
		return Validation{}, readFailure(name, err)
	}
	return Validation{Errors: report.Errors, Warnings: report.Warnings}, nil
}

// readFailure classifies a failure to read a file's bytes as IO.
func readFailure(name string, err error) error {
	var e *raster.Error
	if errors.As(err, &e) {
		return e
	}
	return raster.Errorf(raster.StatusIO, "cannot read %q: %v", name, err)
}
