package tiff

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"math/rand"
	"strings"
	"sync"
	"testing"
)

// chunkCase is a COG encoded from chunks and from its tiles.
type chunkCase struct {
	name          string
	cfg           Config
	nodata        string
	side          int64
	levels        int // that the chunks cover
	nodataPercent int
}

// tilesOf makes every full-resolution tile of cfg (random samples, nodata
// in places) and its mask.
func tilesOf(cfg Config, nodata string, seed int64) map[[2]int64][2][]byte {
	k, _ := kindOf(cfg.SampleFormat, cfg.BitsPerSample)
	bs := int64(cfg.BlockSize)
	size := k.size()
	rng := rand.New(rand.NewSource(seed))
	out := map[[2]int64][2][]byte{}
	for ty := int64(0); ty*bs < cfg.Height; ty++ {
		for tx := int64(0); tx*bs < cfg.Width; tx++ {
			pix := make([]byte, bs*bs*int64(cfg.Bands*size))
			rng.Read(pix)
			for i := 0; i < len(pix); i += size {
				switch {
				case k == kindF32:
					binary.LittleEndian.PutUint32(pix[i:], math.Float32bits(float32(rng.NormFloat64()*100)))
				case k == kindF64:
					binary.LittleEndian.PutUint64(pix[i:], math.Float64bits(rng.NormFloat64()*100))
				}
				if nodata != "" && rng.Intn(10) == 0 {
					nd, _ := parseNoData(k, nodata)
					putSample(pix[i:], k, nd.value)
				}
			}
			var mask []byte
			if cfg.Mask {
				mask = make([]byte, bs*bs)
				for i := range mask {
					if (i/7+i/int(bs)/5)%4 != 0 {
						mask[i] = 1
					}
				}
			}
			out[[2]int64{tx, ty}] = [2][]byte{pix, mask}
		}
	}
	return out
}

func putSample(b []byte, k sampleKind, v float64) {
	switch k {
	case kindU8:
		b[0] = uint8(v)
	case kindU16, kindI16:
		binary.LittleEndian.PutUint16(b, uint16(int16(v)))
	case kindF32:
		binary.LittleEndian.PutUint32(b, math.Float32bits(float32(v)))
	case kindF64:
		binary.LittleEndian.PutUint64(b, math.Float64bits(v))
	}
}

// copyTile is a tile's own buffers (the encoders keep and edit theirs).
func copyTile(t [2][]byte) ([]byte, []byte) {
	pix := append([]byte(nil), t[0]...)
	if t[1] == nil {
		return pix, nil
	}
	return pix, append([]byte(nil), t[1]...)
}

func (c chunkCase) config() Config {
	cfg := c.cfg
	cfg.Tags = gray()
	if c.cfg.Bands == 3 {
		cfg.Tags = Tags{Every: []Tag{shorts(TagPhotometric, PhotometricRGB)}}
	}
	if c.nodata != "" {
		cfg.Tags.Every = append(cfg.Tags.Every, Tag{Code: TagGDALNoData, Type: TypeASCII, Count: uint64(len(c.nodata) + 1),
			Data: append([]byte(c.nodata), 0)})
	}
	cfg.OverviewCount, cfg.Workers = -1, 2
	return cfg
}

// wholeFile is the COG encoded from its tiles, in a random order.
func wholeFile(t *testing.T, cfg Config, tiles map[[2]int64][2][]byte) []byte {
	sink := &MemorySink{}
	e, err := NewEncoder(context.Background(), cfg, sink)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range rand.New(rand.NewSource(3)).Perm(len(tiles)) {
		across, _ := e.Grid()
		k := [2]int64{int64(i) % across, int64(i) / across}
		pix, mask := copyTile(tiles[k])
		if err := e.WriteTile(k[0], k[1], pix, mask); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Finish(); err != nil {
		t.Fatal(err)
	}
	return sink.Bytes()
}

// encodeChunk encodes chunk (cx, cy) as a worker would.
func encodeChunk(cfg Config, tiles map[[2]int64][2][]byte, side, cx, cy int64) (*Chunk, error) {
	ce, err := NewChunkEncoder(context.Background(), cfg, side, cx, cy)
	if err != nil {
		return nil, err
	}
	for k, tile := range tiles { // a random order
		if k[0]/side == cx && k[1]/side == cy {
			pix, mask := copyTile(tile)
			if err := ce.WriteTile(k[0], k[1], pix, mask); err != nil {
				ce.Abort()
				return nil, err
			}
		}
	}
	return ce.Finish()
}

func TestChunksMakeTheFileTilesMake(t *testing.T) {
	for _, c := range []chunkCase{
		// chunks at the raster's right and bottom edges are partial
		{name: "float32 average nodata", cfg: Config{Width: 1000, Height: 700, Bands: 1, SampleFormat: SampleFloat, BitsPerSample: 32,
			BlockSize: 64, Compression: CompressionDeflate, Predictor: PredictorFloatingPoint, Resampling: ResampleAverage},
			nodata: "-9999", side: 4, levels: 2},
		{name: "byte nearest mask", cfg: Config{Width: 1024, Height: 768, Bands: 1, SampleFormat: SampleUint, BitsPerSample: 8,
			BlockSize: 64, Compression: CompressionZSTD, Resampling: ResampleNearest, Mask: true}, side: 8, levels: 3},
		{name: "byte average mask", cfg: Config{Width: 1024, Height: 768, Bands: 1, SampleFormat: SampleUint, BitsPerSample: 8,
			BlockSize: 64, Compression: CompressionDeflate, Predictor: PredictorHorizontal, Resampling: ResampleAverage, Mask: true},
			side: 4, levels: 2},
		{name: "uint16 rgb average", cfg: Config{Width: 1000, Height: 700, Bands: 3, SampleFormat: SampleUint, BitsPerSample: 16,
			BlockSize: 64, Compression: CompressionDeflate, Resampling: ResampleAverage}, side: 2, levels: 1},
		// an odd width: the chunks cover no overview, the writer reduces
		// their full-resolution blocks
		{name: "float64 average mask odd", cfg: Config{Width: 1001, Height: 700, Bands: 1, SampleFormat: SampleFloat, BitsPerSample: 64,
			BlockSize: 64, Compression: CompressionNone, Resampling: ResampleAverage, Mask: true}, side: 4, levels: 0},
		// chunks cover every level, the last included
		{name: "int16 nearest all levels", cfg: Config{Width: 2048, Height: 1024, Bands: 1, SampleFormat: SampleInt, BitsPerSample: 16,
			BlockSize: 128, Compression: CompressionZSTD, Predictor: PredictorHorizontal, Resampling: ResampleNearest}, nodata: "-32768",
			side: 16, levels: 4},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := c.config()
			if m, err := ChunkLevels(cfg, c.side); err != nil || m != c.levels {
				t.Fatalf("chunks of %d tiles cover %d levels (%v), not %d", c.side, m, err, c.levels)
			}
			tiles := tilesOf(cfg, c.nodata, int64(len(c.name)))
			want := wholeFile(t, cfg, tiles)

			sink := &MemorySink{}
			e, err := NewEncoder(context.Background(), cfg, sink)
			if err != nil {
				t.Fatal(err)
			}
			across, down := e.Grid()
			ca, cd := (across+c.side-1)/c.side, (down+c.side-1)/c.side
			jobs := make(chan int64)
			errs := make(chan error, 2)
			var wg sync.WaitGroup
			for range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range jobs {
						ch, err := encodeChunk(cfg, tiles, c.side, i%ca, i/ca)
						var sent Chunk // as another process receives it
						if err == nil {
							if ch.Levels != c.levels {
								t.Errorf("chunk %d covers %d levels", i, ch.Levels)
							}
							b, _ := ch.MarshalBinary()
							err = sent.UnmarshalBinary(b)
						}
						if err == nil {
							err = e.WriteChunk(&sent)
						}
						if err != nil {
							errs <- err
							for range jobs {
							}
							return
						}
					}
				}()
			}
			for _, i := range rand.New(rand.NewSource(5)).Perm(int(ca * cd)) {
				jobs <- int64(i)
			}
			close(jobs)
			wg.Wait()
			close(errs)
			if err := <-errs; err != nil {
				e.Abort()
				t.Fatal(err)
			}
			if err := e.Finish(); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(sink.Bytes(), want) {
				t.Fatalf("the file from chunks (%d bytes) differs from the file from tiles (%d bytes)", len(sink.Bytes()), len(want))
			}
		})
	}
}

func TestBadChunksAreErrors(t *testing.T) {
	c := chunkCase{cfg: Config{Width: 1000, Height: 700, Bands: 1, SampleFormat: SampleFloat, BitsPerSample: 32, BlockSize: 64,
		Compression: CompressionDeflate, Resampling: ResampleAverage}}
	cfg := c.config()
	tiles := tilesOf(cfg, "", 1)
	chunk, err := encodeChunk(cfg, tiles, 4, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	other, err := encodeChunk(cfg, tiles, 2, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEncoder(context.Background(), cfg, &MemorySink{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Abort()
	damaged := *chunk
	damaged.Records = append([]ChunkRecord(nil), chunk.Records...)
	damaged.Records[3].Data = damaged.Records[3].Data[:len(damaged.Records[3].Data)-1]
	missing := *chunk
	missing.Raw = chunk.Raw[1:]
	for _, x := range []struct {
		chunk *Chunk
		want  string
	}{
		{&damaged, "not a block record"},
		{&missing, "raw blocks"},
		{&Chunk{Side: 4, CX: 4, CY: 0, Levels: 2}, "outside"},
		{&Chunk{Side: 4, CX: 0, CY: 0, Levels: 1}, "covers 1 overview levels, not the 2"},
		{chunk, ""},
		{chunk, "written twice"},
		{other, "the file's chunks 4"},
	} {
		err := e.WriteChunk(x.chunk)
		if (x.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), x.want)) {
			t.Errorf("WriteChunk gives %v, not %q", err, x.want)
		}
	}
	pix, _ := copyTile(tiles[[2]int64{0, 0}])
	if err := e.WriteTile(0, 0, pix, nil); err == nil || !strings.Contains(err.Error(), "chunks") {
		t.Errorf("a tile for a file of chunks: %v", err)
	}
	ce, err := NewChunkEncoder(context.Background(), cfg, 4, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := ce.WriteTile(0, 0, pix, nil); err == nil || !strings.Contains(err.Error(), "not in chunk") {
		t.Errorf("a tile outside the chunk: %v", err)
	}
	if _, err := ce.Finish(); err == nil || !strings.Contains(err.Error(), "never written") {
		t.Errorf("a chunk without its tiles: %v", err)
	}
}

func TestDamagedChunkBytesAreErrors(t *testing.T) {
	c := chunkCase{cfg: Config{Width: 300, Height: 200, Bands: 1, SampleFormat: SampleFloat, BitsPerSample: 32, BlockSize: 64,
		Compression: CompressionDeflate, Resampling: ResampleAverage, Mask: true}}
	cfg := c.config()
	chunk, err := encodeChunk(cfg, tilesOf(cfg, "", 2), 2, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := chunk.MarshalBinary()
	var back Chunk
	if err := back.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	again, _ := back.MarshalBinary()
	if !bytes.Equal(again, b) || len(back.Raw) == 0 || back.Raw[0].Mask == nil {
		t.Fatal("a chunk does not survive its binary form")
	}
	huge := append([]byte(nil), b...)
	binary.LittleEndian.PutUint32(huge[8+3*8+4:], 1<<31) // the record count
	for name, data := range map[string][]byte{"truncated": b[:len(b)-1], "longer": append(append([]byte(nil), b...), 0),
		"not a chunk": append([]byte("CLDCHNK\x02"), b[8:]...), "empty": nil, "huge count": huge} {
		if err := back.UnmarshalBinary(data); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
