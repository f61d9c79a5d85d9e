package raster

import (
	"math"
	"math/big"
	"strconv"
	"strings"
)

// NoData is a nodata value, exactly. A double holds the nodata of every
// type but 64-bit integers, whose values beyond 2^53 it cannot: GDAL keeps
// those apart (GetNoDataValueAsInt64 / AsUInt64), and so does NoData.
type NoData struct {
	Float float64  // the value, or for Int the double nearest it
	Int   *big.Int // an integer given or read exactly (text, 64-bit bands); nil: Float is the value
}

// NoDataFloat is the nodata value v.
func NoDataFloat(v float64) NoData { return NoData{Float: v} }

// ParseNoData reads a nodata value written as text: an integer (kept
// exactly, whatever its size), a decimal number, "nan", "inf" or "-inf".
func ParseNoData(s string) (NoData, error) {
	t := strings.TrimSpace(s)
	if i, ok := new(big.Int).SetString(t, 10); ok {
		f, _ := new(big.Float).SetInt(i).Float64()
		return NoData{Float: f, Int: i}, nil
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil && !math.IsInf(f, 0) { // ParseFloat reports 1e400 as a range error: it is +Inf, not a value
		return NoData{}, Errorf(StatusInvalidArgument, "nodata %q is not a number", s)
	}
	if err != nil {
		return NoData{}, Errorf(StatusInvalidArgument, "nodata %q is beyond any type's range", s)
	}
	return NoData{Float: f}, nil
}

// String is the value as text that ParseNoData reads back exactly.
func (n NoData) String() string {
	if n.Int != nil {
		return n.Int.String()
	}
	if math.IsNaN(n.Float) {
		return "nan"
	}
	return strconv.FormatFloat(n.Float, 'g', -1, 64)
}

// Equal reports the same value (NaN equals NaN: it is a nodata value like
// any other).
func (n NoData) Equal(m NoData) bool {
	if math.IsNaN(n.Float) || math.IsNaN(m.Float) {
		return math.IsNaN(n.Float) && math.IsNaN(m.Float)
	}
	a, aok := n.rat()
	b, bok := m.rat()
	return aok == bok && (!aok && n.Float == m.Float || aok && a.Cmp(b) == 0)
}

// rat is the value as a rational number; false for NaN and infinities.
func (n NoData) rat() (*big.Rat, bool) {
	if n.Int != nil {
		return new(big.Rat).SetInt(n.Int), true
	}
	if math.IsNaN(n.Float) || math.IsInf(n.Float, 0) {
		return nil, false
	}
	return new(big.Rat).SetFloat64(n.Float), true
}

// In fails unless n is a value of dtype exactly: a nodata value that the
// band's cells cannot hold would be stored as another value, or match no
// cell at all.
func (n NoData) In(dtype DType) error {
	r, finite := n.rat()
	fail := func(why string) error {
		return Errorf(StatusInvalidArgument, "nodata %s is not a %s value: %s; pass a nodata value that %s cells can hold", n, dtype, why, dtype)
	}
	switch {
	case dtype == Float64:
		if finite && !n.exactDouble() {
			return fail("a double cannot hold it exactly")
		}
	case dtype == Float32:
		if !finite {
			return nil
		}
		f, _ := r.Float64()
		if !n.exactDouble() || float64(float32(f)) != f {
			near := strconv.FormatFloat(float64(float32(f)), 'g', -1, 64)
			if math.Abs(f) > math.MaxFloat32 {
				return fail("it is beyond the Float32 range")
			}
			return fail("the nearest Float32 value is " + near)
		}
	case !dtype.Valid():
		return CheckDType(dtype)
	default:
		if !finite || !r.IsInt() {
			return fail("not an integer")
		}
		lo, hi := integerLimits(dtype)
		if r.Num().Cmp(lo) < 0 || r.Num().Cmp(hi) > 0 {
			return fail("outside " + lo.String() + ".." + hi.String())
		}
	}
	return nil
}

// exactDouble reports whether Float is the value itself.
func (n NoData) exactDouble() bool {
	if n.Int == nil {
		return true
	}
	_, acc := new(big.Float).SetInt(n.Int).Float64()
	return acc == big.Exact
}

// integerLimits is an integer type's range.
func integerLimits(dtype DType) (*big.Int, *big.Int) {
	switch dtype {
	case UInt64:
		return big.NewInt(0), new(big.Int).SetUint64(math.MaxUint64)
	case Int64:
		return big.NewInt(math.MinInt64), big.NewInt(math.MaxInt64)
	}
	i := dtypeInfo[dtype]
	return big.NewInt(int64(i.min)), big.NewInt(int64(i.max))
}

// Int64Value and Uint64Value are n as a 64-bit integer, for the bands GDAL
// keeps such nodata apart for; In(dtype) must have accepted n.
func (n NoData) Int64Value() int64 {
	if n.Int != nil {
		return n.Int.Int64()
	}
	return int64(n.Float)
}

func (n NoData) Uint64Value() uint64 {
	if n.Int != nil {
		return n.Int.Uint64()
	}
	return uint64(n.Float)
}

// NoDataOption is cloudio's own writer option (never passed to GDAL) that
// gives the nodata value as text: exact for 64-bit integers, which the C
// ABI's double cannot carry.
const NoDataOption = "NODATA"

// TakeNoDataOption moves a NODATA=value option into g; a different value
// given both ways is an error.
func TakeNoDataOption(g Georef, options []string) (Georef, []string, error) {
	var rest []string
	for _, kv := range options {
		key, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(key), NoDataOption) {
			rest = append(rest, kv)
			continue
		}
		nd, err := ParseNoData(value)
		if err != nil {
			return g, nil, err
		}
		if g.NoData != nil && !g.NoData.Equal(nd) {
			return g, nil, Errorf(StatusInvalidArgument, "nodata given twice, as %s and as option NODATA=%s", g.NoData, nd)
		}
		g.NoData = &nd
	}
	return g, rest, nil
}
