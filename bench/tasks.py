"""One benchmark task per process: `python bench/tasks.py TASK ARGS...`.

bench.py runs each task in a fresh process (so peak RSS is the task's own)
and compares the ones that do the same job. Every task prints a checksum of
what it computed ("checksum X"); RESULTS says what that is, and bench.py
fails the run when two commands of a group that compute the same result
print different checksums.

Tasks:
  read-cloudio SRC            cloudio.read_tiles, 1024 x 1024 tiles, sum
  read-gdal SRC               a ReadAsArray loop through the GDAL bindings
                              (run it with and without GDAL_NUM_THREADS)
  read-rasterio SRC           a rasterio window loop
  read-rioxarray SRC          rioxarray + Dask (threads), sum
  slope-cloudio SRC DST       cloudio.map_tiles(slope, halo=1) -> COG
  slope-cloudio-nostats SRC DST   the same with statistics=False
  slope-rioxarray SRC DST     rioxarray + dask map_overlap -> tiled GTiff
                              (rioxarray's to_raster) -> gdal_translate -of COG
  dask-sum-{cloudio,rioxarray} SRC SCHED      sum of the DEM as a Dask array
  dask-slope-{cloudio,rioxarray} SRC SCHED    sum of map_overlap(slope)
      SCHED: "threads", or "cluster" (a 2-process dask.distributed LocalCluster)
  dask-floor SRC SCHED        the same scheduler summing an array of zeros with the same
                              chunks and no raster: what any library pays for the scheduler
"""
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

TILE = 1024
# bench.py reads these lines from the task's output.
COMPUTE_SECONDS = "compute-seconds "
CHECKSUM = "checksum "
# Relative difference two checksums of one result may have: the same values
# summed in float64 in another order.
CHECKSUM_TOLERANCE = 1e-9


def slope_core(padded: np.ndarray, cell_x: float, cell_y: float) -> np.ndarray:
    """Slope in degrees of the core of a tile padded by one cell."""
    z = padded.astype(np.float64)
    dzdx = (z[1:-1, 2:] - z[1:-1, :-2]) / (2.0 * cell_x)
    dzdy = (z[2:, 1:-1] - z[:-2, 1:-1]) / (2.0 * cell_y)
    return np.degrees(np.arctan(np.hypot(dzdx, dzdy))).astype(np.float32)


def cell_size(path):
    from osgeo import gdal
    ds = gdal.Open(path)
    gt = ds.GetGeoTransform()
    return abs(gt[1]), abs(gt[5])


def read_cloudio(src):
    import cloudio
    return sum(float(a.sum(dtype=np.float64)) for _, a in cloudio.read_tiles(src, TILE, TILE))


def gdal_name(src):
    """s3://bucket/key as GDAL's /vsis3/bucket/key, for the tools that take GDAL names."""
    return "/vsis3/" + src[len("s3://"):] if src.startswith("s3://") else src


def read_gdal(src):
    from osgeo import gdal
    ds = gdal.Open(gdal_name(src))
    band = ds.GetRasterBand(1)
    total = 0.0
    for r in range(0, ds.RasterYSize, TILE):
        for c in range(0, ds.RasterXSize, TILE):
            a = band.ReadAsArray(c, r, min(TILE, ds.RasterXSize - c), min(TILE, ds.RasterYSize - r))
            total += float(a.sum(dtype=np.float64))
    return total


def read_rasterio(src):
    import rasterio
    from rasterio.windows import Window
    total = 0.0
    with rasterio.open(gdal_name(src)) as ds:
        for r in range(0, ds.height, TILE):
            for c in range(0, ds.width, TILE):
                a = ds.read(1, window=Window(c, r, min(TILE, ds.width - c), min(TILE, ds.height - r)))
                total += float(a.sum(dtype=np.float64))
    return total


def read_rioxarray(src):
    import dask
    import rioxarray
    da = rioxarray.open_rasterio(src, chunks={"band": 1, "y": TILE, "x": TILE}, lock=False)
    with dask.config.set(scheduler="threads"):
        return float(da.data.sum(dtype=np.float64).compute())


def slope_cloudio(src, dst, statistics=True):
    import cloudio
    cx, cy = cell_size(src)
    cloudio.map_tiles(src, lambda t: slope_core(t, cx, cy), dst, tile_rows=TILE, tile_cols=TILE,
                      halo=1, dtype="float32", workers=os.cpu_count(), statistics=statistics)
    return checksum(dst)


def slope_rioxarray(src, dst):
    import dask
    import rioxarray
    cx, cy = cell_size(src)
    da = rioxarray.open_rasterio(src, chunks={"band": 1, "y": TILE, "x": TILE}, lock=False).squeeze("band", drop=True)

    def block_slope(block):
        return np.pad(slope_core(block, cx, cy), 1, mode="edge")

    slope = da.data.map_overlap(block_slope, depth=1, boundary="nearest", dtype=np.float32)
    out = da.copy(data=slope)
    out.rio.write_nodata(None, inplace=True)
    with tempfile.TemporaryDirectory(dir=os.path.dirname(os.path.abspath(dst))) as tmp:
        staging = os.path.join(tmp, "slope.tif")
        with dask.config.set(scheduler="threads"):
            # What rioxarray users write: a tiled, compressed GTiff, chunks
            # written concurrently under a lock, then GDAL's COG driver.
            out.rio.to_raster(staging, tiled=True, compress="DEFLATE", predictor=3, lock=True,
                              windowed=True, num_threads="all_cpus")
        subprocess.run(["gdal_translate", "-q", "-of", "COG", "-co", "COMPRESS=DEFLATE", "-co", "PREDICTOR=FLOATING_POINT",
                        "-co", "NUM_THREADS=ALL_CPUS", "-co", "BIGTIFF=IF_SAFER", staging, dst], check=True)
    return checksum(dst)


def checksum(path):
    """Sum of band 1, read in strips so that it adds little memory to the task."""
    from osgeo import gdal
    ds = gdal.Open(path)
    band = ds.GetRasterBand(1)
    return sum(float(band.ReadAsArray(0, r, ds.RasterXSize, min(TILE, ds.RasterYSize - r)).sum(dtype=np.float64))
               for r in range(0, ds.RasterYSize, TILE))


def dask_array(src, library):
    """The DEM as a Dask array of 1024 x 1024 chunks, from cloudio or rioxarray."""
    if library == "cloudio":
        import cloudio
        return cloudio.dask_backend(src, TILE, TILE)
    import rioxarray
    return rioxarray.open_rasterio(src, chunks={"band": 1, "y": TILE, "x": TILE}, lock=False).data[0]


def on_scheduler(sched, compute):
    """compute() on the scheduler; prints "compute-seconds S", the time of
    the call alone (no interpreter start-up, imports, or cluster start and
    stop), which bench.py reports beside the end-to-end time."""
    import dask

    def timed():
        start = time.perf_counter()
        result = compute()
        print(f"{COMPUTE_SECONDS}{time.perf_counter() - start:.3f}")
        return result
    if sched == "threads":
        with dask.config.set(scheduler="threads"):
            return timed()
    from distributed import Client, LocalCluster
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster):
        return timed()


def dask_sum(library):
    def task(src, sched):
        arr = dask_array(src, library)
        return on_scheduler(sched, lambda: float(arr.sum(dtype=np.float64).compute()))
    return task


def dask_slope(library):
    def task(src, sched):
        cx, cy = cell_size(src)
        arr = dask_array(src, library)
        result = arr.map_overlap(lambda b: np.pad(slope_core(b, cx, cy), 1, mode="edge"), depth=1,
                                 boundary="nearest", dtype=np.float32)
        return on_scheduler(sched, lambda: float(result.sum(dtype=np.float64).compute()))
    return task


def dask_floor(src, sched):
    import dask.array as da
    arr = da.zeros((8192, 8192), chunks=TILE, dtype=np.float32)
    return on_scheduler(sched, lambda: float(arr.sum(dtype=np.float64).compute()))


# Each task and the result its checksum measures.
TASKS = {
    "read-cloudio": (read_cloudio, "DEM sum"),
    "read-gdal": (read_gdal, "DEM sum"),
    "read-rasterio": (read_rasterio, "DEM sum"),
    "read-rioxarray": (read_rioxarray, "DEM sum"),
    "slope-cloudio": (slope_cloudio, "slope sum"),
    "slope-cloudio-nostats": (lambda src, dst: slope_cloudio(src, dst, statistics=False), "slope sum"),
    "slope-rioxarray": (slope_rioxarray, "slope sum"),
    "dask-sum-cloudio": (dask_sum("cloudio"), "DEM sum"),
    "dask-sum-rioxarray": (dask_sum("rioxarray"), "DEM sum"),
    "dask-slope-cloudio": (dask_slope("cloudio"), "slope sum"),
    "dask-slope-rioxarray": (dask_slope("rioxarray"), "slope sum"),
    "dask-floor": (dask_floor, "zeros"),
}
RESULTS = {name: result for name, (_, result) in TASKS.items()}

if __name__ == "__main__":
    task, _ = TASKS[sys.argv[1]]
    print(f"{CHECKSUM}{task(*sys.argv[2:])!r}")
