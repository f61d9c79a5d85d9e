// Command cogencode measures cloudio's COG encoder (internal/tiff) against
// `gdal_translate -of COG` with the same options, on one source raster:
// wall time, CPU time, peak memory and output size, each run in its own
// process, the two tools interleaved (the machines are shared and noisy).
//
//	go run ./bench/cogencode -src DEM.tif [-runs 3] [-co KEY=VALUE ...]
//	go run ./bench/cogencode -synthetic 100000x4096   (the encoder alone on generated tiles: peak memory)
//	go run ./bench/cogencode -synthetic 16384x16384 -dst s3://bucket/key -s3-endpoint 127.0.0.1:9000
//	go run ./bench/cogencode -encode -src DEM.tif -s3-endpoint 127.0.0.1:9000 s3://bucket/key
//
// An s3:// destination streams the COG to S3 while it is encoded
// (internal/upload), with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY from
// the environment (path style, plain http to -s3-endpoint when given);
// -upload-after instead encodes into a local file (in TMPDIR) and uploads
// it once it is whole, as a staging writer does.
//
// The default options are the hand-tuned gdal_translate of issue 12's
// write_cog target: DEFLATE, PREDICTOR=FLOATING_POINT, NUM_THREADS=ALL_CPUS,
// OVERVIEW_RESAMPLING=AVERAGE.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/airbusgeo/godal"

	"github.com/cloudio-dem/cloudio/internal/tiff"
	"github.com/cloudio-dem/cloudio/internal/upload"
)

var (
	s3Endpoint  string
	uploadAfter bool
)

type options []string

func (o *options) String() string     { return strings.Join(*o, " ") }
func (o *options) Set(v string) error { *o = append(*o, v); return nil }

var defaultOptions = []string{"COMPRESS=DEFLATE", "PREDICTOR=FLOATING_POINT", "NUM_THREADS=ALL_CPUS", "OVERVIEW_RESAMPLING=AVERAGE"}

func main() {
	src := flag.String("src", "", "source raster (Float32)")
	dst := flag.String("dst", os.TempDir(), "directory for the outputs")
	runs := flag.Int("runs", 3, "runs of each tool")
	synthetic := flag.String("synthetic", "", "COLSxROWS: encode generated Float32 tiles instead (no GDAL run)")
	encode := flag.Bool("encode", false, "(internal) encode -src into the first argument")
	profile := flag.String("cpuprofile", "", "write the encoder's CPU profile there")
	flag.StringVar(&s3Endpoint, "s3-endpoint", "", "host:port of an S3-compatible server (plain http, path style)")
	flag.BoolVar(&uploadAfter, "upload-after", false, "for s3:// destinations: encode into a local file, then upload it")
	var co options
	flag.Var(&co, "co", "COG creation option (repeatable; default: "+strings.Join(defaultOptions, " ")+")")
	flag.Parse()
	if len(co) == 0 {
		co = defaultOptions
	}
	if *profile != "" {
		f, err := os.Create(*profile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "cogencode:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	var err error
	switch {
	case *encode:
		err = encodeFile(*src, flag.Arg(0), co)
	case *synthetic != "":
		err = encodeSynthetic(*synthetic, *dst, co)
	case *src != "":
		err = compare(*src, *dst, *runs, co)
	default:
		err = errors.New("give -src or -synthetic")
	}
	if err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "cogencode:", err)
		os.Exit(1)
	}
}

type result struct {
	wall, cpu time.Duration
	rss       int64 // KiB
	size      int64
}

func run(out string, name string, args ...string) (result, error) {
	os.Remove(out)
	cmd := exec.Command(name, args...)
	cmd.Stderr = os.Stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return result{}, fmt.Errorf("%s: %w", name, err)
	}
	r := result{wall: time.Since(start)}
	u := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	r.cpu = time.Duration(u.Utime.Nano() + u.Stime.Nano())
	r.rss = u.Maxrss
	st, err := os.Stat(out)
	if err != nil {
		return result{}, err
	}
	r.size = st.Size()
	return r, nil
}

func compare(src, dir string, runs int, co []string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	gdalOut, oursOut := filepath.Join(dir, "cogencode-gdal.tif"), filepath.Join(dir, "cogencode-ours.tif")
	gdalArgs := []string{"-q", "-of", "COG"}
	for _, o := range co {
		gdalArgs = append(gdalArgs, "-co", o)
	}
	gdalArgs = append(gdalArgs, src, gdalOut)
	oursArgs := []string{"-encode", "-src", src}
	for _, o := range co {
		oursArgs = append(oursArgs, "-co", o)
	}
	oursArgs = append(oursArgs, oursOut)
	var gdal, ours []result
	for i := 0; i < runs; i++ {
		syscall.Sync()
		g, err := run(gdalOut, "gdal_translate", gdalArgs...)
		if err != nil {
			return err
		}
		syscall.Sync()
		o, err := run(oursOut, self, oursArgs...)
		if err != nil {
			return err
		}
		gdal, ours = append(gdal, g), append(ours, o)
	}
	fmt.Printf("%s, options %s, %d runs each (median; wall min-max)\n", src, strings.Join(co, " "), runs)
	fmt.Printf("%-16s %8s %14s %8s %10s %12s\n", "tool", "wall s", "(min-max)", "CPU s", "RSS MiB", "bytes")
	med := func(rs []result, f func(result) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	for _, t := range []struct {
		name string
		rs   []result
	}{{"gdal_translate", gdal}, {"cloudio encoder", ours}} {
		wall := func(r result) float64 { return r.wall.Seconds() }
		fmt.Printf("%-16s %8.2f %6.2f-%-6.2f %8.2f %10.0f %12d\n", t.name, med(t.rs, wall),
			slices.MinFunc(t.rs, func(a, b result) int { return int(a.wall - b.wall) }).wall.Seconds(),
			slices.MaxFunc(t.rs, func(a, b result) int { return int(a.wall - b.wall) }).wall.Seconds(),
			med(t.rs, func(r result) float64 { return r.cpu.Seconds() }), med(t.rs, func(r result) float64 { return float64(r.rss) / 1024 }),
			t.rs[0].size)
	}
	w := func(r result) float64 { return r.wall.Seconds() }
	c := func(r result) float64 { return r.cpu.Seconds() }
	fmt.Printf("speed-up %.2fx (wall), %.2fx (CPU); size %+.2f%%\n", med(gdal, w)/med(ours, w), med(gdal, c)/med(ours, c),
		100*(float64(ours[0].size)/float64(gdal[0].size)-1))
	return nil
}

// config is the encoder's configuration for a Float32 raster.
func config(cols, rows int64, tags tiff.Tags, co []string) (tiff.Config, error) {
	cfg := tiff.Config{Width: cols, Height: rows, Bands: 1, SampleFormat: tiff.SampleFloat, BitsPerSample: 32, Tags: tags}
	return cfg, cfg.ApplyCOGOptions(co)
}

// template is GDAL's tags for src: a 1 x 1 GeoTIFF copy of it.
func template(src *godal.Dataset, dir string) (tiff.Tags, error) {
	name := filepath.Join(dir, fmt.Sprintf(".cogencode-template-%d.tif", os.Getpid()))
	defer os.Remove(name)
	t, err := src.Translate(name, []string{"-of", "GTiff", "-srcwin", "0", "0", "1", "1"})
	if err != nil {
		return tiff.Tags{}, err
	}
	if err := t.Close(); err != nil {
		return tiff.Tags{}, err
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return tiff.Tags{}, err
	}
	f, err := tiff.Open(tiff.Bytes(b), tiff.DefaultLimits)
	if err != nil {
		return tiff.Tags{}, err
	}
	return tiff.TemplateTags(f)
}

// encodeFile encodes src into dst, reading each tile's window with GDAL
// (one dataset handle per goroutine).
func encodeFile(src, dst string, co []string) error {
	if os.Getenv("GDAL_CACHEMAX") == "" {
		os.Setenv("GDAL_CACHEMAX", "32MB") // cloudio's default (internal/core)
	}
	godal.RegisterAll()
	ds, err := godal.Open(src)
	if err != nil {
		return err
	}
	defer ds.Close()
	s := ds.Structure()
	if s.NBands != 1 || s.DataType != godal.Float32 {
		return fmt.Errorf("%s: the benchmark takes one Float32 band", src)
	}
	dir := filepath.Dir(dst)
	if strings.HasPrefix(dst, "s3://") {
		dir = os.TempDir()
	}
	tags, err := template(ds, dir)
	if err != nil {
		return err
	}
	cfg, err := config(int64(s.SizeX), int64(s.SizeY), tags, co)
	if err != nil {
		return err
	}
	_, err = encodeTiles(cfg, dst, func() (fill, func(), error) {
		h, err := godal.Open(src)
		if err != nil {
			return nil, nil, err
		}
		read := func(x, y, w, h64 int64, cells []float32) error {
			return h.Read(int(x), int(y), cells, int(w), int(h64), godal.LineSpacing(cfg.BlockSize*4))
		}
		return read, func() { h.Close() }, nil
	})
	return err
}

// encodeSynthetic encodes a generated COLSxROWS DEM, tile by tile in
// row-major order as map_tiles hands them over, to measure the encoder's
// memory on rasters larger than memory.
func encodeSynthetic(size, dir string, co []string) error {
	var cols, rows int64
	if _, err := fmt.Sscanf(size, "%dx%d", &cols, &rows); err != nil {
		return fmt.Errorf("-synthetic %q is not COLSxROWS", size)
	}
	tags := tiff.Tags{Every: []tiff.Tag{{Code: tiff.TagPhotometric, Type: tiff.TypeShort, Count: 1, Data: []byte{1, 0}}}}
	cfg, err := config(cols, rows, tags, co)
	if err != nil {
		return err
	}
	waves := make([]float32, max(cols, rows))
	for i := range waves {
		waves[i] = float32(300 * math.Sin(float64(i)/370))
	}
	bs := int64(cfg.BlockSize)
	start := time.Now()
	dst := filepath.Join(dir, "cogencode-synthetic.tif")
	if strings.HasPrefix(dir, "s3://") {
		dst = dir
	}
	n, err := encodeTiles(cfg, dst, func() (fill, func(), error) {
		return func(x, y, w, h int64, cells []float32) error {
			for r := int64(0); r < h; r++ {
				for c := int64(0); c < w; c++ {
					cells[r*bs+c] = 1000 + waves[x+c] + waves[y+r]/2 + float32((c*7+r*13)%10)/10
				}
			}
			return nil
		}, func() {}, nil
	})
	if err != nil {
		return err
	}
	var u syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &u)
	fmt.Printf("%d x %d Float32 (%.1f GiB raw), options %s: %.1f s, CPU %.1f s, peak RSS %d MiB, %d bytes\n", cols, rows,
		float64(cols*rows*4)/(1<<30), strings.Join(co, " "), time.Since(start).Seconds(),
		float64(u.Utime.Nano()+u.Stime.Nano())/1e9, u.Maxrss/1024, n)
	if strings.HasPrefix(dst, "s3://") {
		return nil
	}
	return os.Remove(dst)
}

// fill writes the w x h cells at (x, y) into cells, in rows of BlockSize.
type fill func(x, y, w, h int64, cells []float32) error

// encodeTiles encodes cfg's raster into dst: as many goroutines as the
// encoder has workers fill tiles in row-major order (each with the fill
// its open returns) and hand them over. It returns the file's size.
func encodeTiles(cfg tiff.Config, dst string, open func() (fill, func(), error)) (int64, error) {
	sink, publish, err := createSink(dst)
	if err != nil {
		return 0, err
	}
	e, err := tiff.NewEncoder(context.Background(), cfg, sink)
	if err != nil {
		sink.Abort()
		return 0, err
	}
	bs := int64(cfg.BlockSize)
	across, down := e.Grid()
	next := make(chan int64)
	errs := make(chan error, cfg.Workers)
	var wg sync.WaitGroup
	for range cfg.Workers {
		f, done, err := open()
		if err != nil {
			errs <- err
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer done()
			failed := false
			for i := range next {
				if failed {
					continue // drain
				}
				tx, ty := i%across, i/across
				tile := make([]byte, e.TileLen())
				cells := unsafe.Slice((*float32)(unsafe.Pointer(&tile[0])), bs*bs)
				err := f(tx*bs, ty*bs, min(bs, cfg.Width-tx*bs), min(bs, cfg.Height-ty*bs), cells)
				if err == nil {
					err = e.WriteTile(tx, ty, tile, nil)
				}
				if err != nil {
					errs <- err
					failed = true
				}
			}
		}()
	}
	for i := int64(0); i < across*down && len(errs) == 0; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		e.Abort()
		return 0, err
	}
	if err := e.Finish(); err != nil {
		return 0, err
	}
	return publish()
}

// createSink is where the COG goes: a local file (a temporary file renamed
// into place) or an S3 object, streamed or (-upload-after) uploaded from a
// local file once whole. publish completes it and returns its size.
func createSink(dst string) (tiff.Sink, func() (int64, error), error) {
	bucket, key, remote := strings.Cut(strings.TrimPrefix(dst, "s3://"), "/")
	remote = remote && strings.HasPrefix(dst, "s3://")
	cfg := upload.S3Config{Endpoint: s3Endpoint, PlainHTTP: s3Endpoint != "", PathStyle: s3Endpoint != "",
		AccessKeyID: os.Getenv("AWS_ACCESS_KEY_ID"), SecretAccessKey: os.Getenv("AWS_SECRET_ACCESS_KEY")}
	if remote && !uploadAfter {
		sink, err := upload.NewS3Sink(context.Background(), cfg, bucket, key)
		if err != nil {
			return nil, nil, err
		}
		return sink, func() (int64, error) { return objectSize(cfg, bucket, key) }, nil
	}
	tmp := dst + ".tmp"
	if remote {
		f, err := os.CreateTemp("", "cogencode-*.tif")
		if err != nil {
			return nil, nil, err
		}
		f.Close()
		tmp = f.Name()
	}
	os.Remove(tmp)
	sink, err := tiff.CreateFileSink(tmp)
	if err != nil {
		return nil, nil, err
	}
	return sink, func() (int64, error) {
		st, err := os.Stat(tmp)
		if err != nil {
			return 0, err
		}
		if !remote {
			return st.Size(), os.Rename(tmp, dst)
		}
		defer os.Remove(tmp)
		return st.Size(), putFile(cfg, tmp, bucket, key)
	}, nil
}
