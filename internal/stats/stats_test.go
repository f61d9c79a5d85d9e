package stats

import (
	"math"
	"math/rand"
	"reflect"
	"testing"
)

// twoPass is the textbook computation, in float64 over the valid cells.
func twoPass(values []float64) (n int, min, max, mean, std float64) {
	min, max = math.Inf(1), math.Inf(-1)
	var sum float64
	for _, v := range values {
		sum += v
		min, max = math.Min(min, v), math.Max(max, v)
	}
	n = len(values)
	mean = sum / float64(n)
	var ss float64
	for _, v := range values {
		ss += (v - mean) * (v - mean)
	}
	return n, min, max, mean, math.Sqrt(ss / float64(n))
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol*math.Max(1, math.Abs(b)) }

// Elevations of thousands of metres that vary by millimetres, added in
// runs of random length in random order: the merge agrees with two passes.
func TestAddMergesExactly(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	cells := make([]float64, 100000)
	for i := range cells {
		cells[i] = 8848 + rng.Float64()*0.01
	}
	var whole Band
	Add(&whole, cells, NoData{}, nil)
	var parts []Band
	for rest := cells; len(rest) > 0; {
		k := min(len(rest), 1+rng.Intn(5000))
		var b Band
		Add(&b, rest[:k], NoData{}, nil)
		parts = append(parts, b)
		rest = rest[k:]
	}
	rng.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
	var merged Band
	for _, p := range parts {
		merged.Merge(p)
	}
	n, lo, hi, mean, std := twoPass(cells)
	for _, b := range []Band{whole, merged} {
		if b.N != uint64(n) || b.Min != lo || b.Max != hi || !near(b.Mean(), mean, 1e-13) || !near(b.StdDev(), std, 1e-9) {
			t.Errorf("got n=%d min=%v max=%v mean=%.17g std=%.17g, want %d %v %v %.17g %.17g", b.N, b.Min, b.Max, b.Mean(), b.StdDev(), n, lo, hi, mean, std)
		}
	}
}

func TestValidCells(t *testing.T) {
	nan := float32(math.NaN())
	var f Band
	Add(&f, []float32{1, nan, -9999, 3, 5, 7}, NoData{Value: -9999, Set: true}, []byte{255, 255, 255, 255, 0, 1})
	if f.N != 3 || f.Min != 1 || f.Max != 7 || f.Mean() != 11.0/3 {
		t.Errorf("float32 with NaN, nodata and a mask: %+v mean %v", f, f.Mean())
	}
	var g Band // GDAL compares float32 cells with the nodata value cast to float32
	Add(&g, []float32{0.1, 2}, NoData{Value: 0.1, Set: true}, nil)
	if g.N != 1 || g.Min != 2 {
		t.Errorf("float32 nodata 0.1: %+v", g)
	}
	for _, nd := range []NoData{{Value: 0.5, Set: true}, {Value: 300, Set: true}, {Value: -1, Set: true}, {}} {
		var b Band // no byte equals these
		Add(&b, []uint8{0, 255, 44}, nd, nil)
		if b.N != 3 || b.Min != 0 || b.Max != 255 {
			t.Errorf("uint8 with nodata %v: %+v", nd, b)
		}
	}
	var i Band
	Add(&i, []int16{-32768, -5, 5}, NoData{Value: -32768, Set: true}, nil)
	if i.N != 2 || i.Mean() != 0 || i.StdDev() != 5 {
		t.Errorf("int16: %+v", i)
	}
	var none Band
	Add(&none, []float64{math.NaN()}, NoData{}, nil)
	if none.N != 0 || !math.IsNaN(none.Mean()) {
		t.Errorf("no valid cell: %+v", none)
	}
}

// The items and their formats are GDAL's (values from GDAL 3.6's
// ComputeStatistics on the same cells).
func TestMetadata(t *testing.T) {
	b := Band{N: 62237, Min: 0.0037797221448272, Max: 333.33029174805, mean: 166.66521886267, m2: 96.280114557447 * 96.280114557447 * 62237}
	want := []string{"STATISTICS_MINIMUM=0.0037797221448272", "STATISTICS_MAXIMUM=333.33029174805",
		"STATISTICS_MEAN=166.66521886267", "STATISTICS_STDDEV=96.280114557447", "STATISTICS_VALID_PERCENT=99.89"}
	if got := b.Metadata(62307); !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := (Band{}).Metadata(100); !reflect.DeepEqual(got, []string{"STATISTICS_VALID_PERCENT=0"}) {
		t.Errorf("no valid cells: %q", got)
	}
	if got := (Band{N: 4, Min: 1, Max: 1, mean: 1}).Metadata(4); got[4] != "STATISTICS_VALID_PERCENT=100" || got[3] != "STATISTICS_STDDEV=0" {
		t.Errorf("constant band: %q", got)
	}
}

func BenchmarkAddFloat32(b *testing.B) {
	cells := make([]float32, 1<<20)
	for i := range cells {
		cells[i] = float32(i%977) * 1.5
	}
	b.SetBytes(int64(4 * len(cells)))
	for range b.N {
		var s Band
		Add(&s, cells, NoData{Value: -9999, Set: true}, nil)
	}
}
