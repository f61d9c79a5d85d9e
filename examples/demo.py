"""The main job, end to end, on a DEM the demo makes itself.

    make demo      (= PYTHONPATH=python /usr/bin/python3 examples/demo.py demo-out)

    examples/demo.py [OUT_DIR] [--reader cloudio|gdal]

1. terrain: a deterministic synthetic DEM, 4096 x 4096 Float32, 30 m cells in
   UTM 33N (EPSG:32633), nodata -9999 (a reservoir): spectral fractal noise
   (numpy FFT, seeded), sharpened into ridges, with a mountain range and a
   carved river valley; nothing downloaded, no input file;
2. write: the array to a Cloud-Optimised GeoTIFF with cloudio.write_cog,
   printing progress; its overviews are AVERAGE (the default for floating
   point: no overshoot, the reservoir's nodata does not spread), which the
   file records as OVERVIEW_RESAMPLING;
3. validate: GDAL's COG validator (osgeo_utils) on the result;
4. walk: cloudio.tile_windows (1024 x 1024) over the COG, reading each tile
   with read_tile() and computing mean elevation, relief and maximum slope;
5. summary: sizes, compression ratio, seconds and MB/s per stage, verdict;
6. quicklook: a shaded-relief PNG from the COG's overviews, next to it.

Exits 1 when the validator rejects the COG.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import numpy as np

import cloudio
from cloudio import TileWindow, tile_windows, write_cog

SIDE = 4096                 # cells per side
CELL = 30.0                 # metres
NODATA = -9999.0
EPSG = 32633                # WGS 84 / UTM zone 33N
GEOTRANSFORM = (500000.0, CELL, 0.0, 4500000.0, 0.0, -CELL)
TILE = 1024
SEED = 20240601
MB = 1e6


# ---- 1. terrain -------------------------------------------------------------

def fractal(side: int, beta: float, rng: np.random.Generator) -> np.ndarray:
    """Spectral synthesis: power ~ k**-beta, random phases; scaled to [-1, 1]."""
    ky = np.fft.fftfreq(side)[:, None]
    kx = np.fft.rfftfreq(side)[None, :]
    k = np.hypot(ky, kx)
    k[0, 0] = 1.0
    amplitude = k ** (-beta / 2.0)
    amplitude[0, 0] = 0.0
    spectrum = amplitude * np.exp(2j * np.pi * rng.random(amplitude.shape))
    z = np.fft.irfft2(spectrum, s=(side, side)).astype(np.float32)
    z /= np.abs(z).max()
    return z


def synthetic_dem(side: int = SIDE, seed: int = SEED) -> np.ndarray:
    """A deterministic, plausible mountain DEM in metres (float32)."""
    rng = np.random.default_rng(seed)
    base = fractal(side, 3.6, rng)                   # large-scale relief
    ridged = 1.0 - np.abs(fractal(side, 3.1, rng))   # sharp crests where the noise crosses 0
    y, x = (np.mgrid[0:side, 0:side].astype(np.float32) / side)
    # A mountain range running south-west to north-east ...
    along = (x - y) / np.sqrt(2)
    range_ = np.exp(-((x + y - 1.1 - 0.08 * np.sin(9 * along)) ** 2) / 0.03)
    # ... and a meandering river valley from north to south, cut through it.
    river = 0.62 + 0.06 * np.sin(7 * y) + 0.03 * np.sin(19 * y + 1)
    valley = np.exp(-((x - river) ** 2) / 0.0015)
    dem = (900.0 + 700.0 * base + 900.0 * range_ * ridged ** 2 + 350.0 * ridged
           - 650.0 * valley * (0.6 + 0.4 * y))
    # A gentle downstream tilt, then survey precision (0.1 m).
    dem += 300.0 * (1.0 - y)
    dem = np.round(dem, 1).astype(np.float32)
    # A reservoir in the valley, filled to a contour: no data there.
    basin = np.hypot(x - river, (y - 0.3) / 2.5) < 0.06
    lake = basin & (dem < np.percentile(dem[basin], 35))
    dem[lake] = NODATA
    return dem


# ---- 4. reading and summarising tiles ------------------------------------------

def read_tile(path_or_ds, win: TileWindow) -> np.ndarray:
    """One tile of band 1 as a 2-D array: through cloudio for a path, through
    GDAL's bindings for an open osgeo dataset (the caller keeps a reference
    to it while reading: a band of a dataset that was freed crashes)."""
    if isinstance(path_or_ds, (str, os.PathLike)):
        return cloudio.read_window(path_or_ds, win)
    return path_or_ds.GetRasterBand(1).ReadAsArray(*win.gdal)


def tile_stats(tile: np.ndarray, cell: float = CELL) -> tuple:
    """(mean elevation, relief, max slope in degrees) over valid cells."""
    valid = tile != NODATA
    if not valid.any():
        return float("nan"), float("nan"), float("nan")
    z = np.where(valid, tile, np.nan).astype(np.float64)
    dzdy, dzdx = np.gradient(z, cell)
    slope = np.degrees(np.arctan(np.hypot(dzdx, dzdy)))
    finite = np.isfinite(slope)
    steepest = float(slope[finite].max()) if finite.any() else float("nan")
    values = tile[valid]
    return float(values.mean(dtype=np.float64)), float(values.max() - values.min()), steepest


# ---- 6. quicklook ------------------------------------------------------------------

# Hypsometric tints: elevation fraction -> RGB.
TINTS = np.array([[0.00, 70, 120, 60], [0.25, 130, 165, 90], [0.50, 205, 190, 120],
                  [0.75, 160, 125, 95], [1.00, 245, 245, 245]], dtype=np.float64)
WATER = (70, 110, 170)


def quicklook(cog: str, png: str, size: int = 1024) -> None:
    """Shaded relief at ~size px, read from the COG's overviews (GDAL picks
    the overview level matching the reduced size): hillshade x elevation
    tints, nodata in blue, written with GDAL's PNG driver."""
    from osgeo import gdal
    gdal.UseExceptions()
    small_name, shade_name = "/vsimem/demo_small.tif", "/vsimem/demo_shade.tif"
    small = gdal.Translate(small_name, cog, width=size, height=0, resampleAlg="average")
    shade = gdal.DEMProcessing(shade_name, small, "hillshade", zFactor=2.0, multiDirectional=True, computeEdges=True)
    z = small.GetRasterBand(1).ReadAsArray()
    light = shade.GetRasterBand(1).ReadAsArray().astype(np.float64) / 255.0
    valid = z != NODATA
    lo, hi = np.percentile(z[valid], [1, 99])
    t = np.clip((z - lo) / max(hi - lo, 1e-6), 0, 1)
    rgb = np.empty((3,) + z.shape, dtype=np.uint8)
    for c in range(3):
        tint = np.interp(t, TINTS[:, 0], TINTS[:, c + 1])
        band = np.where(valid, tint * (0.35 + 0.75 * light), WATER[c])
        rgb[c] = np.clip(band, 0, 255).astype(np.uint8)
    mem = gdal.GetDriverByName("MEM").Create("", z.shape[1], z.shape[0], 3, gdal.GDT_Byte)
    for c in range(3):
        mem.GetRasterBand(c + 1).WriteArray(rgb[c])
    gdal.GetDriverByName("PNG").CreateCopy(png, mem, options=["WORLDFILE=NO"])
    mem = shade = small = None
    gdal.Unlink(small_name)
    gdal.Unlink(shade_name)
    if os.path.exists(png + ".aux.xml"):
        os.remove(png + ".aux.xml")


# ---- the job ---------------------------------------------------------------------

class Progress:
    """write_cog's progress on one line: a bar redrawn in place on a
    terminal, milestones every 10 % otherwise (logs stay short)."""

    def __init__(self, label: str, width: int = 30):
        self.label, self.width, self.shown = label, width, -1
        self.tty = sys.stdout.isatty()
        if not self.tty:
            sys.stdout.write(label)

    def __call__(self, fraction: float) -> None:
        percent = int(100 * min(max(fraction, 0.0), 1.0))
        step = percent if self.tty else percent // 10 * 10
        if step <= self.shown:
            return
        self.shown = step
        if self.tty:
            done = step * self.width // 100
            sys.stdout.write(f"\r{self.label}[{'#' * done}{'.' * (self.width - done)}] {step:3d}%")
        else:
            sys.stdout.write(f" {step}%")
        sys.stdout.flush()

    def close(self) -> None:
        sys.stdout.write("\n")
        sys.stdout.flush()


def overview_summary(cog: str) -> str:
    """The overview levels and the method the file records for them."""
    from osgeo import gdal
    gdal.UseExceptions()
    ds = gdal.Open(cog)
    band = ds.GetRasterBand(1)
    sizes = [f"{band.GetOverview(i).XSize}x{band.GetOverview(i).YSize}" for i in range(band.GetOverviewCount())]
    return f"{len(sizes)} levels ({', '.join(sizes)}), OVERVIEW_RESAMPLING={ds.GetMetadataItem('OVERVIEW_RESAMPLING')}"


def validate(cog: str) -> tuple:
    """GDAL's COG validator: (passed, its verdict line)."""
    run = subprocess.run([sys.executable, "-m", "osgeo_utils.samples.validate_cloud_optimized_geotiff", cog],
                         capture_output=True, text=True)
    lines = [line.strip() for line in (run.stdout + run.stderr).splitlines() if line.strip()]
    if run.returncode == 0:
        verdict = next((line for line in lines if "valid cloud optimized" in line), "valid")
    else:
        verdict = " / ".join(lines) or f"validator exited with {run.returncode}"
    return run.returncode == 0, verdict


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="cloudio demo: synthetic DEM -> COG -> validate -> tile walk -> quicklook")
    p.add_argument("out_dir", nargs="?", default="demo-out")
    p.add_argument("--reader", choices=("cloudio", "gdal"), default="cloudio",
                   help="read tiles through cloudio.read_window (default) or GDAL's Python bindings")
    args = p.parse_args(argv)
    os.makedirs(args.out_dir, exist_ok=True)
    cog = os.path.join(args.out_dir, "demo_dem.tif")
    png = os.path.join(args.out_dir, "demo_hillshade.png")
    print(f"cloudio {cloudio.version()}")
    seconds = {}

    t0 = time.perf_counter()
    dem = synthetic_dem()
    seconds["terrain"] = time.perf_counter() - t0
    raw = dem.nbytes
    print(f"terrain      {SIDE} x {SIDE} Float32 ({raw / MB:.0f} MB), EPSG:{EPSG}, {CELL:g} m cells, "
          f"{int((dem == NODATA).sum())} nodata cells, {seconds['terrain']:.1f} s")

    bar = Progress("write_cog    ")
    t0 = time.perf_counter()
    try:
        write_cog(dem, cog, "deflate", geotransform=GEOTRANSFORM, crs=EPSG, nodata=NODATA, overview_resampling="average",
                  progress=bar)
    finally:
        bar.close()
    seconds["write"] = time.perf_counter() - t0
    size = os.path.getsize(cog)
    del dem

    t0 = time.perf_counter()
    valid, verdict = validate(cog)
    seconds["validate"] = time.perf_counter() - t0
    print(f"validator    {verdict}")
    print(f"overviews    {overview_summary(cog)}")

    t0 = time.perf_counter()
    if args.reader == "gdal":
        from osgeo import gdal
        gdal.UseExceptions()
        source = gdal.Open(cog)  # kept alive for the whole walk
    else:
        source = cog
    stats = []
    for win in tile_windows(cog, TILE, TILE):
        stats.append((win,) + tile_stats(read_tile(source, win)))
    source = None
    seconds["walk"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    quicklook(cog, png)
    seconds["quicklook"] = time.perf_counter() - t0

    print(f"\nraster       {SIDE} x {SIDE} cells, Float32, {raw / MB:.1f} MB uncompressed")
    print(f"COG          {cog}: {size / MB:.1f} MB, DEFLATE + floating-point predictor, "
          f"compression ratio {raw / size:.2f}")
    print(f"tiles        {len(stats)} windows of {TILE} x {TILE} (read with {args.reader})")
    print(f"             {'window (row, col, rows, cols)':30s} {'mean m':>8s} {'relief m':>9s} {'max slope':>10s}")
    for win, mean, relief, steepest in stats:
        print(f"             {str(tuple(win)):30s} {mean:8.1f} {relief:9.1f} {steepest:8.1f} deg")
    means = np.array([s[1] for s in stats])
    slopes = np.array([s[3] for s in stats])
    print(f"             overall: mean of tile means {np.nanmean(means):.1f} m, steepest slope {np.nanmax(slopes):.1f} deg")
    print("stages       " + ", ".join(f"{k} {v:.2f} s" for k, v in seconds.items()))
    print(f"throughput   write {raw / MB / seconds['write']:.0f} MB/s, "
          f"tile walk {raw / MB / seconds['walk']:.0f} MB/s (uncompressed MB)")
    print(f"validator    {'PASSED' if valid else 'FAILED'}: {verdict}")
    print(f"quicklook    {png}")
    return 0 if valid else 1


if __name__ == "__main__":
    sys.exit(main())
