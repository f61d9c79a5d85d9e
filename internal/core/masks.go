package core

import (
	"fmt"
	"math"

	"github.com/airbusgeo/godal"

	"github.com/cloudio-dem/cloudio/internal/raster"
	"github.com/cloudio-dem/cloudio/internal/storage"
)

// readMasks reads GDAL's mask of each band (GetMaskBand: its nodata, a
// per-dataset mask, an alpha band) for window w into buf, band-sequential,
// one byte per cell: 0 where the cell holds no data, 255 elsewhere. Masks
// always come through GDAL (through h, a handle of the reader's own).
func (d *Dataset) readMasks(h *handle, w raster.Window, bands []int, buf []byte) error {
	cells := int(w.Rows * w.Cols)
	var err error
	storage.Pinned(d.name.Store, func() {
		all := h.gdal.Bands()
		for i, b := range bands {
			var ge gdalErrors
			out := buf[i*cells : (i+1)*cells]
			if all[b-1].MaskBand().Read(int(w.ColOff), int(w.RowOff), out, int(w.Cols), int(w.Rows), godal.ErrLogger(ge.handler())) != nil {
				err = ge.Err(fmt.Sprintf("cannot read the mask of band %d, window (row_off=%d, col_off=%d, n_rows=%d, n_cols=%d) of %q", b, w.RowOff, w.ColOff, w.Rows, w.Cols, d.name.User), raster.StatusIO)
				return
			}
			for j, v := range out { // GDAL's alpha masks hold any value; only 0 masks
				if v != 0 {
					out[j] = 255
				}
			}
		}
	})
	return err
}

// maskedCells is the halo fill of EdgeNoData for masks: beyond the raster
// there is no data.
func maskedCells(bands int) [][]byte {
	out := make([][]byte, bands)
	for i := range out {
		out[i] = []byte{0}
	}
	return out
}

// addLen adds buffer sizes, saturating as ReadSpec.BufferLen does.
func addLen(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
