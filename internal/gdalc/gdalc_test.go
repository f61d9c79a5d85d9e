package gdalc

import (
	"testing"

	"github.com/cloudio-dem/cloudio/internal/raster"
)

// A failure's status comes from its CPLE number, or from a refusal of the
// credentials however GDAL words it; nothing raised leaves the fallback.
func TestReportClassifies(t *testing.T) {
	for _, c := range []struct {
		r    Report
		want raster.Status
	}{
		{Report{Failed: true, Code: cpleAWSObjectNotFound, Msgs: []string{"no such key"}}, raster.StatusNotFound},
		{Report{Failed: true, Code: cpleIllegalArg, Msgs: []string{"bad"}}, raster.StatusInvalidArgument},
		{Report{Failed: true, Code: cpleUserInterrupt, Msgs: []string{"stop"}}, raster.StatusCancelled},
		{Report{Failed: true, Code: cpleNotSupported, Msgs: []string{"no"}}, raster.StatusUnsupported},
		{Report{Failed: true, Code: cpleAWSObjectNotFound, Msgs: []string{"HTTP response code: 403"}}, raster.StatusIO},
		{Report{Failed: true, Code: 1, Msgs: []string{"The request signature we calculated does not match"}}, raster.StatusIO},
		{Report{Failed: true, Code: 1, Msgs: []string{"odd"}}, raster.StatusInternal},
		{Report{}, raster.StatusInternal},
	} {
		if got := raster.StatusOf(c.r.Err("ctx", raster.StatusInternal)); got != c.want {
			t.Errorf("%+v: %v, want %v", c.r, got, c.want)
		}
	}
	r := Report{Failed: true, Msgs: []string{"a", "b"}, Warning: "w"}
	if msg := r.Err("ctx", raster.StatusIO).Error(); msg != "ctx: a; b (GDAL warned: w)" {
		t.Errorf("message %q", msg)
	}
}

func TestReportNoAnswer(t *testing.T) {
	for r, want := range map[*Report]bool{
		{Warning: "CURL error: Connection refused"}:      true,
		{Msgs: []string{"HTTP response code on x: 0"}}:   true,
		{VSIMsg: "HTTP response code on x: 0"}:           true,
		{Msgs: []string{"HTTP response code on x: 404"}}: false,
		{}: false,
	} {
		if r.NoAnswer() != want {
			t.Errorf("%+v: NoAnswer %v", *r, !want)
		}
	}
}
