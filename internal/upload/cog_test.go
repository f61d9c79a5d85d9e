package upload

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cloudio-dem/cloudio/internal/tiff"
)

var (
	_ tiff.Sink = (*S3Sink)(nil)
	_ tiff.Sink = (*AzureSink)(nil)
)

// cog is a COG to encode: a float32 raster of w x h cells, a DEM or noise
// (which does not compress), with the creation options of GDAL's COG
// driver.
type cog struct {
	w, h    int64
	noise   bool
	mask    bool
	options []string
}

func (c cog) config(t *testing.T) tiff.Config {
	t.Helper()
	cfg := tiff.Config{Width: c.w, Height: c.h, Bands: 1, SampleFormat: tiff.SampleFloat, BitsPerSample: 32, Mask: c.mask,
		Tags: tiff.Tags{Every: []tiff.Tag{{Code: tiff.TagPhotometric, Type: tiff.TypeShort, Count: 1,
			Data: []byte{tiff.PhotometricMinIsBlack, 0}}}}}
	if err := cfg.ApplyCOGOptions(c.options); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// tile makes full-resolution tile (tx, ty) and its mask.
func (c cog) tile(bs, tx, ty int64) ([]byte, []byte) {
	pix := make([]byte, bs*bs*4)
	rng := rand.New(rand.NewSource(tx*7919 + ty))
	var mask []byte
	if c.mask {
		mask = make([]byte, bs*bs)
	}
	for y := range bs {
		for x := range bs {
			gx, gy := float64(tx*bs+x), float64(ty*bs+y)
			v := 1000 + 300*math.Sin(gx/37) + 200*math.Cos(gy/23) + rng.Float64()
			if c.noise {
				v = rng.Float64() * 1e6
			}
			binary.LittleEndian.PutUint32(pix[(y*bs+x)*4:], math.Float32bits(float32(v)))
			if mask != nil && (int64(gx)/50+int64(gy)/70)%3 != 0 {
				mask[y*bs+x] = 1
			}
		}
	}
	return pix, mask
}

// encode writes the COG into sink from three goroutines, in a random order
// of tiles; cancel, when set, is called once half the tiles are encoded.
func (c cog) encode(t *testing.T, ctx context.Context, sink tiff.Sink, cancel func()) error {
	t.Helper()
	cfg := c.config(t)
	var once sync.Once
	if cancel != nil {
		cfg.Progress = func(done, total int64) {
			if done >= total/2 {
				once.Do(cancel)
			}
		}
	}
	e, err := tiff.NewEncoder(ctx, cfg, sink)
	if err != nil {
		return err
	}
	across, down := e.Grid()
	order := rand.New(rand.NewSource(c.w)).Perm(int(across * down))
	jobs := make(chan int)
	errs := make(chan error, 3)
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				tx, ty := int64(i)%across, int64(i)/across
				pix, mask := c.tile(int64(cfg.BlockSize), tx, ty)
				if err := e.WriteTile(tx, ty, pix, mask); err != nil {
					errs <- err
					for range jobs {
					}
					return
				}
			}
		}()
	}
	for _, i := range order {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return errors.Join(err, e.Abort())
	}
	return e.Finish()
}

// inMemory is the COG the encoder writes into a MemorySink (what a
// FileSink writes where ranges cannot be inserted).
func (c cog) inMemory(t *testing.T) []byte {
	t.Helper()
	var m tiff.MemorySink
	if err := c.encode(t, context.Background(), &m, nil); err != nil {
		t.Fatal(err)
	}
	return m.Bytes()
}

// checkUpload encodes the COG into sink (made with err), downloads it
// and checks it (checkCOG); it was uploaded in at least least parts (0:
// in one request). It returns what was uploaded.
func (c cog) checkUpload(t *testing.T, sink tiff.Sink, err error, least int, download func() ([]byte, int)) []byte {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.encode(t, context.Background(), sink, nil); err != nil {
		t.Fatal(err)
	}
	got, parts := download()
	if parts < least || (least == 0) != (parts == 0) {
		t.Fatalf("uploaded in %d parts, not at least %d", parts, least)
	}
	checkCOG(t, got, c.inMemory(t))
	return got
}

// checkFailure encodes the COG into sink (made with err), calling
// cancel halfway when halfway is set: the encoding must fail with an
// error that says want and shows none of secrets.
func (c cog) checkFailure(t *testing.T, ctx context.Context, halfway bool, cancel func(), sink tiff.Sink, err error, want string,
	secrets ...string) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if !halfway {
		cancel = nil
	}
	err = c.encode(t, ctx, sink, cancel)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, not one that says %s", err, want)
	}
	for _, secret := range secrets {
		if strings.Contains(err.Error(), secret) {
			t.Fatalf("the error shows a secret: %v", err)
		}
	}
}

// checkCOG fails the test unless file is what the encoder writes locally
// and GDAL's COG validator takes it.
func checkCOG(t *testing.T, file, want []byte) {
	t.Helper()
	if len(file) != len(want) {
		t.Fatalf("the uploaded file has %d bytes, the local one %d", len(file), len(want))
	}
	for i := range file {
		if file[i] != want[i] {
			t.Fatalf("the uploaded file differs from the local one at byte %d", i)
		}
	}
	path := filepath.Join(t.TempDir(), "uploaded.tif")
	if err := os.WriteFile(path, file, 0o644); err != nil {
		t.Fatal(err)
	}
	// Debian's interpreter, which sees python3-gdal.
	out, err := exec.Command("/usr/bin/python3", "-c", `import sys
from osgeo import gdal
from osgeo_utils.samples.validate_cloud_optimized_geotiff import validate
gdal.UseExceptions()
warnings, errors, _ = validate(sys.argv[1], full_check=True)
print("\n".join(errors))
sys.exit(1 if errors else 0)`, path).CombinedOutput()
	if err != nil {
		t.Fatalf("GDAL's validator refuses the uploaded COG: %v\n%s", err, strings.TrimSpace(string(out)))
	}
}
