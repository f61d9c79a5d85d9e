package tiff_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"github.com/airbusgeo/godal"

	"github.com/cloudio-dem/cloudio/internal/tiff"
)

// fuzzTypes are the sample types godal reads back.
var fuzzTypes = []struct {
	format, bits int
	read         func(ds *godal.Dataset, w, h, n int) ([]byte, error)
}{
	{tiff.SampleUint, 8, readAs[byte]}, {tiff.SampleUint, 16, readAs[uint16]}, {tiff.SampleInt, 16, readAs[int16]},
	{tiff.SampleUint, 32, readAs[uint32]}, {tiff.SampleInt, 32, readAs[int32]}, {tiff.SampleFloat, 32, readAs[float32]},
	{tiff.SampleFloat, 64, readAs[float64]},
}

func readAs[T byte | uint16 | int16 | uint32 | int32 | float32 | float64](ds *godal.Dataset, w, h, n int) ([]byte, error) {
	buf := make([]T, w*h*n)
	if err := ds.Read(0, 0, buf, w, h); err != nil {
		return nil, err
	}
	var zero T
	return unsafe.Slice((*byte)(unsafe.Pointer(&buf[0])), len(buf)*int(unsafe.Sizeof(zero))), nil
}

// FuzzEncoder round-trips random rasters, in random layouts, through the
// encoder, the package's parser (every IFD, block, leader and trailer) and
// GDAL (the full resolution reads back as it was written).
func FuzzEncoder(f *testing.F) {
	f.Add(uint16(100), uint16(70), uint8(0), uint8(1), int64(1))
	f.Add(uint16(1), uint16(1), uint8(3), uint8(0), int64(2))
	f.Add(uint16(300), uint16(17), uint8(0x2d), uint8(0x93), int64(3))
	f.Add(uint16(64), uint16(129), uint8(0x56), uint8(0x4a), int64(4))
	f.Add(uint16(33), uint16(250), uint8(0xff), uint8(0xff), int64(5))
	f.Fuzz(func(t *testing.T, w, h uint16, layout, coding uint8, seed int64) {
		width, height := int64(w%400)+1, int64(h%400)+1
		typ := fuzzTypes[int(layout)%len(fuzzTypes)]
		bands := int(layout>>3)%4 + 1
		cfg := tiff.Config{Width: width, Height: height, Bands: bands, SampleFormat: typ.format, BitsPerSample: typ.bits,
			BlockSize: 16 << (int(coding) % 3), Compression: []int{tiff.CompressionNone, tiff.CompressionDeflate, tiff.CompressionZSTD}[int(coding>>2)%3],
			Predictor: 1 + int(coding>>4)%2, Resampling: tiff.ResampleNearest + tiff.Resampling(coding>>5&1), OverviewCount: -1,
			Mask: layout&0x40 != 0, Workers: 2}
		if typ.format == tiff.SampleFloat && coding&0x80 != 0 {
			cfg.Predictor = tiff.PredictorFloatingPoint
		}
		photometric, extra := uint16(tiff.PhotometricMinIsBlack), bands-1
		if bands >= 3 && typ.bits == 8 && layout&0x80 != 0 {
			photometric, extra = tiff.PhotometricRGB, bands-3
		}
		cfg.Tags.Every = []tiff.Tag{{Code: tiff.TagPhotometric, Type: tiff.TypeShort, Count: 1, Data: binary.LittleEndian.AppendUint16(nil, photometric)}}
		if extra > 0 {
			cfg.Tags.Every = append(cfg.Tags.Every, tiff.Tag{Code: tiff.TagExtraSamples, Type: tiff.TypeShort, Count: uint64(extra), Data: make([]byte, 2*extra)})
		}
		rng := rand.New(rand.NewSource(seed))
		px := bands * typ.bits / 8
		cells := make([]byte, int(width*height)*px)
		rng.Read(cells)
		if typ.format == tiff.SampleFloat {
			// finite values, NaN compares unequal to itself in no way the test minds
			for i := 0; i+typ.bits/8 <= len(cells); i += typ.bits / 8 {
				cells[i+typ.bits/8-1] &= 0x3f
			}
		}
		sink := &tiff.MemorySink{}
		e, err := tiff.NewEncoder(context.Background(), cfg, sink)
		if err != nil {
			t.Fatal(err)
		}
		across, down := e.Grid()
		bs := int64(cfg.BlockSize)
		for _, i := range rng.Perm(int(across * down)) {
			tx, ty := int64(i)%across, int64(i)/across
			tile := make([]byte, e.TileLen())
			var mask []byte
			if cfg.Mask {
				mask = make([]byte, bs*bs)
				rng.Read(mask)
			}
			for y := int64(0); y < bs && ty*bs+y < height; y++ {
				n := min(bs, width-tx*bs)
				from := (ty*bs+y)*width + tx*bs
				copy(tile[y*bs*int64(px):], cells[from*int64(px):(from+n)*int64(px)])
			}
			if err := e.WriteTile(tx, ty, tile, mask); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.Finish(); err != nil {
			t.Fatal(err)
		}
		file := sink.Bytes()
		parsed, err := tiff.Open(tiff.Bytes(file), tiff.DefaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		levels := 0
		for i := range parsed.IFDs {
			im, err := parsed.Image(i)
			if err != nil {
				t.Fatal(err)
			}
			if im.SubfileType&tiff.SubfileMask == 0 {
				levels++
			}
			for by := int64(0); by < im.BlocksDown(); by++ {
				spans, err := im.Spans(0, by, 0, im.BlocksAcross())
				if err != nil {
					t.Fatal(err)
				}
				for _, s := range spans {
					if s.N == 0 || binary.LittleEndian.Uint32(file[s.Off-4:]) != uint32(s.N) ||
						!bytes.Equal(file[s.Off+s.N-4:s.Off+s.N], file[s.Off+s.N:s.Off+s.N+4]) {
						t.Fatalf("IFD %d block row %d: a block without its leader or trailer", i, by)
					}
				}
			}
		}
		if want := len(parsed.IFDs); cfg.Mask && want != 2*levels || !cfg.Mask && want != levels {
			t.Fatalf("%d IFDs for %d levels", want, levels)
		}
		path := filepath.Join(t.TempDir(), "fuzz.tif")
		if err := os.WriteFile(path, file, 0o644); err != nil {
			t.Fatal(err)
		}
		ds, err := godal.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer ds.Close()
		if n := len(ds.Bands()[0].Overviews()); n != levels-1 {
			t.Fatalf("GDAL sees %d overviews, the parser %d", n, levels-1)
		}
		got, err := typ.read(ds, int(width), int(height), bands)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, cells) {
			t.Fatal("GDAL reads back other cells than were written")
		}
	})
}
