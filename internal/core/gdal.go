package core

/*
#cgo pkg-config: gdal
#cgo CFLAGS: -I${SRCDIR}/../gdalc
#include <stdlib.h>
#include <cpl_conv.h>
#include <cpl_vsi.h>
#include <cpl_error.h>
#include "translate.h"
*/
import "C"

import (
	"errors"
	"fmt"

	"github.com/airbusgeo/godal"

	"github.com/cloudio-dem/cloudio/internal/gdalc"
	"github.com/cloudio-dem/cloudio/internal/raster"
)

// VersionString is "0.1.0 (GDAL 3.6.2)".
func VersionString() string {
	v := godal.Version()
	return fmt.Sprintf("%s (GDAL %d.%d.%d)", raster.Version, v.Major(), v.Minor(), v.Revision())
}

// gdalErrors collects the failures GDAL raises during one godal call;
// warnings are not failures (godal's default treats them as errors).
type gdalErrors struct{ gdalc.Report }

func (g *gdalErrors) handler() godal.ErrorHandler {
	return func(ec godal.ErrorCategory, code int, msg string) error {
		if ec == godal.CE_Warning {
			g.Warning = msg
		}
		if ec < godal.CE_Failure {
			return nil
		}
		if !g.Failed {
			g.Failed, g.Code = true, code
		}
		g.Msgs = append(g.Msgs, msg)
		return errors.New(msg)
	}
}

// gdalType is the type GDAL's calls take for buffers and bands of d: Int8
// is Byte, with PIXELTYPE=SIGNEDBYTE on the band, before GDAL 3.7.
func gdalType(d raster.DType) raster.DType {
	if d == raster.Int8 && !gdalc.HasInt8() {
		return raster.Byte
	}
	return d
}

// gdalConverts reports whether GDAL converts cells of type from to type to
// correctly: before GDAL 3.7 it takes signed bytes for unsigned ones.
func gdalConverts(from, to raster.DType) bool {
	return from == to || gdalc.HasInt8() || (from != raster.Int8 && to != raster.Int8)
}
