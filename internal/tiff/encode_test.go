package tiff

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// gray is the Tags of a single-band raster without metadata.
func gray() Tags { return Tags{Every: []Tag{shorts(TagPhotometric, PhotometricMinIsBlack)}} }

func testConfig() Config {
	return Config{Width: 300, Height: 200, Bands: 1, SampleFormat: SampleFloat, BitsPerSample: 32, BlockSize: 64,
		Compression: CompressionDeflate, Predictor: PredictorFloatingPoint, Resampling: ResampleAverage,
		OverviewCount: -1, Tags: gray(), Workers: 3}
}

// testTiles makes every tile of cfg's grid (float32 cells).
func testTiles(cfg Config) map[[2]int64][]byte {
	bs := int64(cfg.BlockSize)
	tiles := map[[2]int64][]byte{}
	for ty := int64(0); ty*bs < cfg.Height; ty++ {
		for tx := int64(0); tx*bs < cfg.Width; tx++ {
			tile := make([]byte, bs*bs*4*int64(cfg.Bands))
			for i := range tile[:len(tile)/4] {
				x, y := tx*bs+int64(i)%bs, ty*bs+int64(i)/bs
				binary.LittleEndian.PutUint32(tile[4*i:], math.Float32bits(float32(math.Sin(float64(x)/9)*100+float64(y))))
			}
			tiles[[2]int64{tx, ty}] = tile
		}
	}
	return tiles
}

// encodeTiles writes tiles in the given order (row-major when nil) and
// finishes.
func encodeTiles(t *testing.T, cfg Config, sink Sink, order []int) error {
	t.Helper()
	e, err := NewEncoder(context.Background(), cfg, sink)
	if err != nil {
		return err
	}
	return writeAll(e, cfg, order)
}

func writeAll(e *Encoder, cfg Config, order []int) error {
	across, down := e.Grid()
	tiles := testTiles(cfg)
	if order == nil {
		for i := range int(across * down) {
			order = append(order, i)
		}
	}
	for _, i := range order {
		k := [2]int64{int64(i) % across, int64(i) / across}
		if err := e.WriteTile(k[0], k[1], tiles[k], nil); err != nil {
			e.Abort()
			return err
		}
	}
	return e.Finish()
}

func encodeToMemory(t *testing.T, cfg Config, order []int) []byte {
	t.Helper()
	sink := &MemorySink{}
	if err := encodeTiles(t, cfg, sink, order); err != nil {
		t.Fatal(err)
	}
	return sink.Bytes()
}

func TestArrivalOrderDoesNotMatter(t *testing.T) {
	cfg := testConfig()
	want := encodeToMemory(t, cfg, nil)
	for seed := range int64(3) {
		order := rand.New(rand.NewSource(seed)).Perm(5 * 4)
		if got := encodeToMemory(t, cfg, order); !bytes.Equal(got, want) {
			t.Fatalf("order %v gives another file", order)
		}
	}
}

// blocks reads every block of every IFD of a COG.
func blocks(t *testing.T, file []byte) [][]byte {
	t.Helper()
	f, err := Open(Bytes(file), DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for i := range f.IFDs {
		im, err := f.Image(i)
		if err != nil {
			t.Fatal(err)
		}
		for by := int64(0); by < im.BlocksDown(); by++ {
			spans, err := im.Spans(0, by, 0, im.BlocksAcross())
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range spans {
				block := file[s.Off : s.Off+s.N]
				leader := binary.LittleEndian.Uint32(file[s.Off-4:])
				if uint64(leader) != s.N || !bytes.Equal(file[s.Off+s.N-4:s.Off+s.N], file[s.Off+s.N:s.Off+s.N+4]) {
					t.Fatalf("IFD %d block row %d: leader %d for %d bytes, or trailer not the last 4 bytes", i, by, leader, s.N)
				}
				out = append(out, block)
			}
		}
	}
	return out
}

func TestFileSinkWritesWhatMemoryHolds(t *testing.T) {
	cfg := testConfig()
	cfg.Mask = false
	want := encodeToMemory(t, cfg, nil)
	for _, insert := range []bool{true, false} {
		path := filepath.Join(t.TempDir(), "out.tif")
		sink, err := CreateFileSink(path)
		if err != nil {
			t.Fatal(err)
		}
		if insert && sink.insert == 0 {
			t.Fatalf("the test's file system (%s) cannot insert ranges", filepath.Dir(path))
		}
		if !insert {
			sink.insert = 0
		}
		if err := encodeTiles(t, cfg, sink, rand.New(rand.NewSource(1)).Perm(20)); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !insert && !bytes.Equal(got, want) {
			t.Fatalf("moving the blocks in place: %d bytes, not the %d in memory", len(got), len(want))
		}
		if insert {
			if gap := len(got) - len(want); gap < 0 || gap >= int(sink.insert) {
				t.Fatalf("inserting the head: %d bytes for %d in memory", len(got), len(want))
			}
			if !reflectBlocks(blocks(t, got), blocks(t, want)) {
				t.Fatal("inserting the head: the blocks differ from those in memory")
			}
		}
		if leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".cloudio-*")); len(leftovers) > 0 {
			t.Fatalf("spool files left behind: %v", leftovers)
		}
	}
}

func reflectBlocks(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// failingSink fails its n-th write.
type failingSink struct {
	MemorySink
	mu     sync.Mutex
	n      int
	abort  bool
	finish bool
}

func (s *failingSink) Write(section int, p []byte) error {
	s.mu.Lock()
	s.n--
	fail := s.n == 0
	s.mu.Unlock()
	if fail {
		return errors.New("disk full")
	}
	return s.MemorySink.Write(section, p)
}

func (s *failingSink) Abort() error { s.abort = true; return nil }

func (s *failingSink) Finish(head []byte) error { s.finish = true; return nil }

func TestFailuresAbortTheSink(t *testing.T) {
	cfg := testConfig()
	sink := &failingSink{n: 7}
	err := encodeTiles(t, cfg, sink, nil)
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("a failing sink gives %v", err)
	}
	if !sink.abort || sink.finish {
		t.Fatalf("aborted %v, finished %v", sink.abort, sink.finish)
	}

	sink = &failingSink{}
	e, err := NewEncoder(context.Background(), cfg, sink)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.WriteTile(0, 0, testTiles(cfg)[[2]int64{0, 0}], nil); err != nil {
		t.Fatal(err)
	}
	if err := e.Finish(); err == nil || !strings.Contains(err.Error(), "tile (1, 0) was never written") {
		t.Fatalf("a missing tile gives %v", err)
	}
	if !sink.abort || sink.finish {
		t.Fatalf("a missing tile: aborted %v, finished %v", sink.abort, sink.finish)
	}
}

func TestCancellation(t *testing.T) {
	cfg := testConfig()
	ctx, cancel := context.WithCancel(context.Background())
	sink := &failingSink{}
	e, err := NewEncoder(ctx, cfg, sink)
	if err != nil {
		t.Fatal(err)
	}
	tiles := testTiles(cfg)
	if err := e.WriteTile(0, 0, tiles[[2]int64{0, 0}], nil); err != nil {
		t.Fatal(err)
	}
	cancel()
	var werr error
	for i := 1; i < 20 && werr == nil; i++ {
		werr = e.WriteTile(int64(i%5), int64(i/5), tiles[[2]int64{int64(i % 5), int64(i / 5)}], nil)
	}
	if !errors.Is(werr, context.Canceled) {
		t.Fatalf("WriteTile after the cancellation gives %v", werr)
	}
	if err := e.Finish(); !errors.Is(err, context.Canceled) || !sink.abort {
		t.Fatalf("Finish after the cancellation gives %v (sink aborted: %v)", err, sink.abort)
	}

	sink = &failingSink{}
	e, err = NewEncoder(context.Background(), cfg, sink)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Abort(); err != nil || !sink.abort {
		t.Fatalf("Abort gives %v (sink aborted: %v)", err, sink.abort)
	}
	if err := e.WriteTile(0, 0, tiles[[2]int64{0, 0}], nil); err == nil {
		t.Fatal("WriteTile after Abort succeeds")
	}
}

func TestBadTilesAreErrors(t *testing.T) {
	cfg := testConfig()
	e, err := NewEncoder(context.Background(), cfg, &MemorySink{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Abort()
	tile := testTiles(cfg)[[2]int64{0, 0}]
	for _, c := range []struct {
		col, row  int64
		pix, mask []byte
		want      string
	}{
		{5, 0, tile, nil, "outside the 5 x 4 tile grid"},
		{0, -1, tile, nil, "outside"},
		{0, 0, tile[1:], nil, "has 16383 bytes, not 16384"},
		{0, 0, tile, make([]byte, 64*64), "has a mask, but the COG has none"},
	} {
		if err := e.WriteTile(c.col, c.row, c.pix, c.mask); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("tile (%d, %d): %v, want %q", c.col, c.row, err, c.want)
		}
	}
	if err := e.WriteTile(0, 0, tile, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.WriteTile(0, 0, tile, nil); err == nil || !strings.Contains(err.Error(), "written twice") {
		t.Errorf("a tile written twice: %v", err)
	}
}

func TestBadConfigsAreErrors(t *testing.T) {
	for _, c := range []struct {
		change func(*Config)
		want   string
	}{
		{func(c *Config) { c.Width = 0 }, "raster size 0 x 200"},
		{func(c *Config) { c.BlockSize = 100 }, "block size 100"},
		{func(c *Config) { c.SampleFormat = SampleInt; c.BitsPerSample = 8 }, "8-bit samples of sample format 2"},
		{func(c *Config) { c.Compression = CompressionLZW }, "compression 5 is not implemented"},
		{func(c *Config) { c.SampleFormat = SampleInt; c.Predictor = PredictorFloatingPoint }, "PREDICTOR=3 is only supported with Float32 or Float64"},
		{func(c *Config) { c.Level = 13 }, "compression level 13 is not in 1..12"},
		{func(c *Config) { c.Resampling = 0 }, "overviews need a resampling"},
		{func(c *Config) { c.Tags = Tags{} }, "no PhotometricInterpretation"},
		{func(c *Config) { c.Bands = 2 }, "describes 1 bands, not 2"},
		{func(c *Config) { c.Tags.Main = append(c.Tags.Main, shorts(TagCompression, 1)) }, "tag 259 describes the image structure"},
		{func(c *Config) { c.Tags.Main = append(c.Tags.Main, shorts(TagExtraSamples, 0)) }, "tag 338 belongs in every IFD"},
		{func(c *Config) {
			c.Tags.Every = append(c.Tags.Every, Tag{Code: TagGDALNoData, Type: TypeASCII, Count: 4, Data: []byte("abc\x00")})
		},
			`GDAL_NODATA "abc" is not a Float32 value`},
		{func(c *Config) {
			c.Tags.Every = append(c.Tags.Every, Tag{Code: TagGDALNoData, Type: TypeASCII, Count: 4, Data: []byte("0.1\x00")})
		},
			`GDAL_NODATA "0.1" is not representable as Float32`},
		{func(c *Config) {
			c.SampleFormat, c.BitsPerSample, c.Predictor = SampleUint, 8, 1
			c.Tags.Every = append(c.Tags.Every, Tag{Code: TagGDALNoData, Type: TypeASCII, Count: 4, Data: []byte("256\x00")})
		}, `GDAL_NODATA "256" is not representable as Byte`},
		{func(c *Config) { c.Tags.Every[0] = shorts(TagPhotometric, PhotometricPalette) }, "a colour table needs Byte or UInt16 samples"},
		{func(c *Config) { c.Tags.Main = []Tag{{Code: 305, Type: TypeASCII, Count: 9, Data: []byte("x\x00")}} }, "tag 305: 2 bytes for 9 values"},
	} {
		cfg := testConfig()
		c.change(&cfg)
		if _, err := NewEncoder(context.Background(), cfg, &MemorySink{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v, want %q", err, c.want)
		}
	}
}

func TestProgressCountsEveryTile(t *testing.T) {
	cfg := testConfig()
	var last, total int64
	calls := 0
	cfg.Progress = func(done, all int64) {
		calls++
		if done != last+1 {
			t.Errorf("progress %d after %d", done, last)
		}
		last, total = done, all
	}
	encodeToMemory(t, cfg, nil)
	// 300 x 200 in 64-cell tiles: 5 x 4, then 150 x 100 (3 x 2), 75 x 50 (2 x 1), 37 x 25 (1 x 1).
	if total != 20+6+2+1 || last != total || calls != int(total) {
		t.Fatalf("progress ends at %d of %d after %d calls", last, total, calls)
	}
}

// bigSink places the sections past 4 GiB, as a large file would be.
type bigSink struct {
	MemorySink
	head []byte
}

func (s *bigSink) Place(head int64, sections []int64) []int64 {
	starts := BackToBack(head, sections)
	for i := range starts {
		starts[i] += 5 << 30
	}
	return starts
}

func (s *bigSink) Finish(head []byte) error { s.head = head; return nil }

func TestBigTIFFWhenTheFileNeedsIt(t *testing.T) {
	cfg := testConfig()
	sink := &bigSink{}
	if err := encodeTiles(t, cfg, sink, nil); err != nil {
		t.Fatal(err)
	}
	if v := binary.LittleEndian.Uint16(sink.head[2:]); v != 43 {
		t.Fatalf("a file past 4 GiB has TIFF version %d, not BigTIFF's 43", v)
	}
	cfg.BigTIFF = BigTIFFNo
	if err := encodeTiles(t, cfg, &bigSink{}, nil); err == nil || !strings.Contains(err.Error(), "too many for a classic TIFF (BIGTIFF=NO)") {
		t.Fatalf("BIGTIFF=NO past 4 GiB gives %v", err)
	}
	cfg.BigTIFF = BigTIFFAuto
	if f, err := Open(Bytes(encodeToMemory(t, cfg, nil)), DefaultLimits); err != nil || f.BigTIFF {
		t.Fatalf("a small file: BigTIFF %v, %v", f != nil && f.BigTIFF, err)
	}
}

func TestCOGOptions(t *testing.T) {
	base := func() Config {
		return Config{Width: 1000, Height: 1000, Bands: 1, SampleFormat: SampleFloat, BitsPerSample: 32, Tags: gray()}
	}
	c := base()
	if err := c.ApplyCOGOptions([]string{"compress=zstd", "LEVEL=3", "PREDICTOR=YES", "BLOCKSIZE=256", "BIGTIFF=YES",
		"NUM_THREADS=3", "OVERVIEW_RESAMPLING=average", "OVERVIEW_COUNT=2", "GEOTIFF_VERSION=1.1", "QUALITY=75"}); err != nil {
		t.Fatal(err)
	}
	if c.Compression != CompressionZSTD || c.Level != 3 || c.Predictor != PredictorFloatingPoint || c.BlockSize != 256 ||
		c.BigTIFF != BigTIFFYes || c.Workers != 3 || c.Resampling != ResampleAverage || c.OverviewCount != 2 {
		t.Fatalf("options give %+v", c)
	}
	c = base()
	if err := c.ApplyCOGOptions([]string{"COMPRESS=DEFLATE", "RESAMPLING=NEAREST", "OVERVIEWS=NONE", "OVERVIEW_COUNT=3"}); err != nil ||
		c.OverviewCount != 0 || c.Predictor != PredictorNone || c.Level != 0 || c.BlockSize != 512 {
		t.Fatalf("OVERVIEWS=NONE gives %+v, %v", c, err)
	}
	small := base()
	small.Width, small.Height = 500, 500
	if err := small.ApplyCOGOptions([]string{"COMPRESS=NONE"}); err != nil {
		t.Fatalf("a raster without overviews needs no resampling: %v", err)
	}
	for _, opts := range [][]string{
		{},
		{"COMPRESS=LZW", "OVERVIEW_RESAMPLING=NEAREST"},
		{"COMPRESS=JPEG"},
		{"COMPRESS=DEFLATE"},
		{"COMPRESS=DEFLATE", "OVERVIEW_RESAMPLING=CUBIC"},
		{"COMPRESS=DEFLATE", "RESAMPLING=BILINEAR"},
		{"COMPRESS=DEFLATE", "RESAMPLING=AVERAGE", "TILING_SCHEME=GoogleMapsCompatible"},
		{"COMPRESS=DEFLATE", "RESAMPLING=AVERAGE", "TARGET_SRS=EPSG:4326"},
		{"COMPRESS=DEFLATE", "RESAMPLING=AVERAGE", "OVERVIEW_COMPRESS=WEBP"},
		{"COMPRESS=DEFLATE", "RESAMPLING=AVERAGE", "SPARSE_OK=TRUE"},
		{"COMPRESS=DEFLATE", "RESAMPLING=AVERAGE", "STATISTICS=YES"},
		{"COMPRESS=DEFLATE", "RESAMPLING=AVERAGE", "BLOCKSIZE=100"},
		{"COMPRESS=DEFLATE", "RESAMPLING=AVERAGE", "LEVEL=13"},
		{"COMPRESS=DEFLATE", "RESAMPLING=AVERAGE", "OVERVIEWS=FORCE_USE_EXISTING"},
		{"COMPRESS=DEFLATE", "RESAMPLING=AVERAGE", "NBITS=12"},
		{"COMPRESS=DEFLATE", "RESAMPLING=AVERAGE", "BIGTIFF=MAYBE"},
	} {
		c := base()
		if err := c.ApplyCOGOptions(opts); !errors.Is(err, ErrNotImplemented) {
			t.Errorf("%v: %v, want ErrNotImplemented", opts, err)
		}
	}
	// A colour table makes NEAREST GDAL's default resampling.
	c = base()
	c.SampleFormat, c.BitsPerSample = SampleUint, 8
	c.Tags = Tags{Every: []Tag{shorts(TagPhotometric, PhotometricPalette)}}
	if err := c.ApplyCOGOptions([]string{"COMPRESS=DEFLATE"}); err != nil || c.Resampling != ResampleNearest {
		t.Fatalf("a palette raster: %v, %v", c.Resampling, err)
	}
}

// boundsSink checks that no section outgrows the bound Start announced.
type boundsSink struct {
	MemorySink
	bounds, written []int64
}

func (s *boundsSink) Start(bounds []int64) error {
	s.bounds, s.written = bounds, make([]int64, len(bounds))
	return s.MemorySink.Start(bounds)
}

func (s *boundsSink) Write(section int, p []byte) error {
	s.written[section] += int64(len(p))
	return s.MemorySink.Write(section, p)
}

func TestSectionsStayWithinTheirBounds(t *testing.T) {
	cfg := testConfig()
	cfg.Compression, cfg.Mask = CompressionNone, true // no compression: the closest a section comes to its bound
	sink := &boundsSink{}
	if err := encodeTiles(t, cfg, sink, nil); err != nil {
		t.Fatal(err)
	}
	if len(sink.bounds) != 4 {
		t.Fatalf("%d sections for 4 levels", len(sink.bounds))
	}
	for i, n := range sink.written {
		if n == 0 || n > sink.bounds[i] {
			t.Fatalf("section %d: %d bytes, bound %d", i, n, sink.bounds[i])
		}
	}
}

// TestReducersKeepNothing: once a COG is finished, no level holds a block,
// a seam or a destination block any more, whatever the parity of the
// sizes (which decides whether windows straddle blocks).
func TestReducersKeepNothing(t *testing.T) {
	for _, size := range [][2]int64{{256, 256}, {301, 256}, {256, 301}, {301, 299}, {1000, 77}} {
		cfg := testConfig()
		cfg.Width, cfg.Height = size[0], size[1]
		e, err := NewEncoder(context.Background(), cfg, &MemorySink{})
		if err != nil {
			t.Fatal(err)
		}
		across, down := e.Grid()
		if err := writeAll(e, cfg, rand.New(rand.NewSource(size[0])).Perm(int(across*down))); err != nil {
			t.Fatal(err)
		}
		for i, l := range e.levels {
			if r := l.reducer; r != nil && len(r.pending)+len(r.right)+len(r.below)+len(r.filling) > 0 {
				t.Errorf("%d x %d, level %d: %d blocks, %d + %d seams, %d destination blocks left", size[0], size[1], i,
					len(r.pending), len(r.right), len(r.below), len(r.filling))
			}
		}
	}
}

// gatedSink holds every write of the full resolution until the gate opens.
type gatedSink struct {
	MemorySink
	full          int
	entered, gate chan struct{}
	once          sync.Once
}

func (s *gatedSink) Start(sections []int64) error {
	s.full = len(sections) - 1
	return s.MemorySink.Start(sections)
}

func (s *gatedSink) Write(section int, p []byte) error {
	if section == s.full {
		s.once.Do(func() { close(s.entered) })
		<-s.gate
	}
	return s.MemorySink.Write(section, p)
}

// A sink slower than the encoding slows the encoding down: the records
// waiting for it stay within maxQueued (and one per worker), WriteTile blocks, and the file
// is the same.
func TestASlowSinkHoldsTheEncoding(t *testing.T) {
	defer func(was int64) { maxQueued = was }(maxQueued)
	cfg := testConfig()
	cfg.Compression = CompressionNone
	record := int64(cfg.BlockSize*cfg.BlockSize*4 + 8)
	maxQueued = 2 * record
	sink := &gatedSink{entered: make(chan struct{}), gate: make(chan struct{})}
	e, err := NewEncoder(context.Background(), cfg, sink)
	if err != nil {
		t.Fatal(err)
	}
	tiles := testTiles(cfg)
	if err := e.WriteTile(0, 0, tiles[[2]int64{0, 0}], nil); err != nil {
		t.Fatal(err)
	}
	<-sink.entered // the first tile's write is under way
	done := make(chan error, 1)
	go func() {
		across, down := e.Grid()
		for i := int64(1); i < across*down; i++ {
			if err := e.WriteTile(i%across, i/across, tiles[[2]int64{i % across, i / across}], nil); err != nil {
				done <- err
				return
			}
		}
		done <- e.Finish()
	}()
	time.Sleep(500 * time.Millisecond)
	seq := e.levels[0].seq
	seq.mu.Lock()
	queued, waiting := seq.queued, len(seq.waiting)
	seq.mu.Unlock()
	select {
	case err := <-done:
		t.Fatalf("the file was finished by a sink that took nothing (%v)", err)
	default:
	}
	// each worker leaves its record before it waits
	if bound := maxQueued + int64(cfg.Workers)*record; queued > bound {
		t.Fatalf("%d bytes (%d records) wait for the sink, more than %d", queued, waiting, bound)
	}
	close(sink.gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	want := encodeToMemory(t, cfg, nil)
	if !bytes.Equal(sink.Bytes(), want) {
		t.Fatal("the file differs")
	}
}

// Tags learnt once every tile is written (a writer's statistics) go into
// the first IFD only; tags the encoder writes itself are refused.
func TestMainTagsSetBeforeFinish(t *testing.T) {
	cfg := testConfig()
	sink := &MemorySink{}
	e, err := NewEncoder(context.Background(), cfg, sink)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.SetMainTags([]Tag{shorts(TagImageWidth, 9)}); err == nil {
		t.Fatal("ImageWidth accepted as a main tag")
	}
	if err := e.SetMainTags([]Tag{shorts(TagPhotometric, PhotometricMinIsBlack)}); err == nil {
		t.Fatal("PhotometricInterpretation accepted twice")
	}
	text := "<GDALMetadata>late</GDALMetadata>\x00"
	if err := e.SetMainTags([]Tag{{Code: TagGDALMetadata, Type: TypeASCII, Count: uint64(len(text)), Data: []byte(text)}}); err != nil {
		t.Fatal(err)
	}
	if err := writeAll(e, cfg, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.SetMainTags(nil); err == nil {
		t.Fatal("tags set after Finish")
	}
	f, err := Open(Bytes(sink.Bytes()), DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range f.IFDs {
		found := false
		for _, en := range d.Entries {
			if en.Tag == TagGDALMetadata {
				b, err := f.raw(en, 0, en.Count)
				if err != nil || string(b) != text {
					t.Fatalf("IFD %d: GDAL_METADATA %q, %v", i, b, err)
				}
				found = true
			}
		}
		if found != (i == 0) {
			t.Fatalf("IFD %d: GDAL_METADATA present=%v", i, found)
		}
	}
}
