// Package stats accumulates the band statistics GDAL records in a raster's
// metadata (STATISTICS_MINIMUM, _MAXIMUM, _MEAN, _STDDEV, _VALID_PERCENT)
// from cells as they stream past, in any order and from any number of
// goroutines (one Band per goroutine, merged after), and formats them as
// GDAL does. It is plain Go: it knows nothing of GDAL or files.
//
// Valid cells are those GDAL counts: not NaN, not the nodata value, not
// masked out. Means and deviations are merged with Chan et al.'s pairwise
// update over runs that are summed around their first value, so they stay
// exact to rounding whatever the offset of the data (elevations of
// thousands of metres varying by centimetres).
package stats

import (
	"fmt"
	"math"
	"math/big"
)

// Number is a cell type.
type Number interface {
	~uint8 | ~int8 | ~uint16 | ~int16 | ~uint32 | ~int32 | ~uint64 | ~int64 | ~float32 | ~float64
}

// Band is the running statistics of one band's valid cells.
type Band struct {
	N        uint64 // valid cells
	Min, Max float64
	mean, m2 float64 // mean, and sum of squared deviations from it
}

// Mean of the valid cells (NaN without any).
func (b Band) Mean() float64 {
	if b.N == 0 {
		return math.NaN()
	}
	return b.mean
}

// StdDev is the population standard deviation, as GDAL computes it (NaN
// without valid cells).
func (b Band) StdDev() float64 {
	if b.N == 0 {
		return math.NaN()
	}
	return math.Sqrt(math.Max(0, b.m2/float64(b.N)))
}

// Merge adds o's cells to b.
func (b *Band) Merge(o Band) {
	switch {
	case o.N == 0:
		return
	case b.N == 0:
		*b = o
		return
	}
	n := float64(b.N + o.N)
	delta := o.mean - b.mean
	b.mean += delta * float64(o.N) / n
	b.m2 += o.m2 + delta*delta*float64(b.N)*float64(o.N)/n
	b.N += o.N
	b.Min, b.Max = math.Min(b.Min, o.Min), math.Max(b.Max, o.Max)
}

// NoData is a band's nodata value as a cell of its type is compared with
// it: GDAL compares float32 cells with the value cast to float32, integer
// cells only with an integral value in their range.
type NoData struct {
	Value float64
	Int   *big.Int // the value exactly, when it is an integer a double may not hold (64-bit bands); nil: Value
	Set   bool
}

// cellNoData is nd as a T, and whether any T can equal it.
func cellNoData[T Number](nd NoData) (T, bool) {
	if !nd.Set || math.IsNaN(nd.Value) { // NaN cells are never valid anyway
		return 0, false
	}
	v := T(0)
	switch any(v).(type) {
	case float32, float64:
		return T(nd.Value), true
	case uint64:
		if nd.Int != nil {
			return T(nd.Int.Uint64()), nd.Int.IsUint64()
		}
	case int64:
		if nd.Int != nil {
			return T(nd.Int.Int64()), nd.Int.IsInt64()
		}
	}
	t := T(nd.Value)
	if nd.Value != math.Trunc(nd.Value) || float64(t) != nd.Value {
		return 0, false
	}
	return t, true
}

// Add accumulates the valid cells of values into b: cells that are not
// NaN, not nd, and whose mask byte is not 0 (mask nil: no mask; else as
// long as values).
func Add[T Number](b *Band, values []T, nd NoData, mask []byte) {
	if mask != nil && len(mask) != len(values) {
		panic(fmt.Sprintf("stats.Add: %d mask bytes for %d values", len(mask), len(values)))
	}
	nodata, hasNoData := cellNoData[T](nd)
	valid := func(i int) bool {
		v := values[i]
		return v == v && (!hasNoData || v != nodata) && (mask == nil || mask[i] != 0)
	}
	start := 0
	for start < len(values) && !valid(start) {
		start++
	}
	if start == len(values) {
		return
	}
	// Summed around the first valid cell, in locals, with min and max
	// free of branches on the data.
	shift := float64(values[start])
	var n uint64
	var sum, sumSq float64
	lo, hi := shift, shift
	for i := start; i < len(values); i++ {
		if valid(i) {
			x := float64(values[i])
			d := x - shift
			n++
			sum += d
			sumSq += d * d
			lo, hi = min(lo, x), max(hi, x)
		}
	}
	fn := float64(n)
	b.Merge(Band{N: n, Min: lo, Max: hi, mean: shift + sum/fn, m2: math.Max(0, sumSq-sum*sum/fn)})
}

// Metadata is b as the band metadata items GDAL writes for it, formatted as
// GDAL formats them, for a band of cells cells in all: without valid cells
// only STATISTICS_VALID_PERCENT=0, as GDAL's ComputeStatistics leaves it.
func (b Band) Metadata(cells uint64) []string {
	percent := 0.0
	if cells > 0 {
		percent = 100 * float64(b.N) / float64(cells)
	}
	valid := fmt.Sprintf("STATISTICS_VALID_PERCENT=%.4g", percent)
	if b.N == 0 {
		return []string{valid}
	}
	return []string{fmt.Sprintf("STATISTICS_MINIMUM=%.14g", b.Min), fmt.Sprintf("STATISTICS_MAXIMUM=%.14g", b.Max),
		fmt.Sprintf("STATISTICS_MEAN=%.14g", b.Mean()), fmt.Sprintf("STATISTICS_STDDEV=%.14g", b.StdDev()), valid}
}
