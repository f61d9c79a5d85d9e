"""The main job, end to end, on an embedded default DEM.

    make demo        (= PYTHONPATH=python /usr/bin/python3 examples/demo.py demo-out)

1. makes a deterministic synthetic terrain, 4096 x 4096 Float32 (UTM 30 m
   cells, nodata -9999): fractal noise shaped by ridges and a carved valley;
2. writes it as a COG through cloudio.write_cog, with progress;
3. checks it with GDAL's COG validator;
4. walks its 1024 x 1024 tile windows with cloudio.read_tiles, computing
   per-tile mean elevation and maximum slope;
5. prints a summary, and writes a hillshade quicklook PNG next to the COG.
"""
import os
import subprocess
import sys
import time

import numpy as np

import cloudio

SIDE = 4096
CELL = 30.0
NODATA = -9999.0
GEOTRANSFORM = (500000.0, CELL, 0.0, 4500000.0, 0.0, -CELL)


def synthetic_terrain(side: int = SIDE, seed: int = 7) -> np.ndarray:
    """Deterministic terrain: spectral fractal noise (beta = 4.2), two
    ridges, a river valley, and a lake of nodata."""
    rng = np.random.default_rng(seed)
    ky = np.fft.fftfreq(side)[:, None]
    kx = np.fft.rfftfreq(side)[None, :]
    k = np.hypot(kx, ky)
    k[0, 0] = 1.0
    spectrum = k ** -2.1 * np.exp(2j * np.pi * rng.random(k.shape))
    spectrum[0, 0] = 0
    z = np.fft.irfft2(spectrum, s=(side, side))
    z = (z - z.min()) / (z.max() - z.min())
    y, x = np.mgrid[0:side, 0:side] / side
    ridges = 0.6 * np.exp(-((x - 0.3) ** 2) / 0.01) + 0.4 * np.exp(-((y - 0.7) ** 2) / 0.02)
    valley = 0.5 * np.exp(-((x - 0.55 - 0.1 * np.sin(6 * y)) ** 2) / 0.002)
    dem = np.round(400 + 1800 * z + 900 * ridges - 600 * valley, 1).astype(np.float32)  # survey precision: 0.1 m
    dem[(x - 0.8) ** 2 + (y - 0.25) ** 2 < 0.002] = NODATA
    return dem


def tile_stats(tile: np.ndarray):
    """Mean elevation and maximum slope (degrees) of a tile, nodata excluded."""
    valid = tile != NODATA
    if not valid.any():
        return float("nan"), float("nan")
    z = np.where(valid, tile, np.nan).astype(np.float64)
    dzdy, dzdx = np.gradient(z, CELL)
    slope = np.degrees(np.arctan(np.hypot(dzdx, dzdy)))
    return float(np.nanmean(z)), float(np.nanmax(slope)) if np.isfinite(slope).any() else float("nan")


def quicklook(cog: str, png: str, size: int = 1024) -> None:
    """A hillshade PNG, read at reduced resolution from the COG's overviews."""
    from osgeo import gdal
    small = gdal.Translate("/vsimem/demo_small.tif", cog, width=size, height=size, resampleAlg="average")
    gdal.DEMProcessing(png, small, "hillshade", format="PNG", zFactor=5.0, computeEdges=True, multiDirectional=True)
    small = None
    gdal.Unlink("/vsimem/demo_small.tif")


def main(out_dir: str) -> int:
    os.makedirs(out_dir, exist_ok=True)
    cog = os.path.join(out_dir, "demo_dem.tif")
    print(f"cloudio {cloudio.version()}")

    t0 = time.perf_counter()
    dem = synthetic_terrain()
    t_make = time.perf_counter() - t0

    shown = []

    def progress(fraction: float) -> None:
        step = int(fraction * 10)
        if not shown or step > shown[-1]:
            shown.append(step)
            sys.stdout.write(f"\rwriting COG   {step * 10:3d}%")
            sys.stdout.flush()

    t0 = time.perf_counter()
    cloudio.write_cog(dem, cog, geotransform=GEOTRANSFORM, crs=32633, nodata=NODATA, progress=progress)
    t_write = time.perf_counter() - t0
    print()

    validator = subprocess.run([sys.executable, "-m", "osgeo_utils.samples.validate_cloud_optimized_geotiff", cog],
                               capture_output=True, text=True)
    verdict = validator.stdout.strip().splitlines()[0] if validator.stdout.strip() else validator.stderr.strip()

    t0 = time.perf_counter()
    stats = [(win, *tile_stats(tile)) for win, tile in cloudio.read_tiles(cog, 1024, 1024)]
    t_walk = time.perf_counter() - t0

    png = os.path.join(out_dir, "demo_hillshade.png")
    quicklook(cog, png)

    raw_mb = dem.nbytes / 2**20
    size_mb = os.path.getsize(cog) / 2**20
    print(f"raster        {SIDE} x {SIDE} Float32, {raw_mb:.0f} MB uncompressed (made in {t_make:.1f} s)")
    print(f"COG           {cog}: {size_mb:.1f} MB, compression ratio {raw_mb / size_mb:.2f}, "
          f"written in {t_write:.2f} s ({raw_mb / t_write:.0f} MB/s)")
    print(f"validator     {verdict}")
    print(f"tiles         {len(stats)} windows of 1024 x 1024 read and summarised in {t_walk:.2f} s "
          f"({raw_mb / t_walk:.0f} MB/s)")
    for row in stats[:3] + [None] + stats[-2:]:
        if row is None:
            print("              ...")
            continue
        win, mean, steepest = row
        print(f"              {tuple(win)}: mean {mean:7.1f} m, max slope {steepest:5.1f} deg")
    print(f"quicklook     {png}")
    return 0 if validator.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "demo-out"))
