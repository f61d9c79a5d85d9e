"""cloudio benchmarks: cloudio against the tools users would otherwise pick.

    make bench       (= PYTHONPATH=python /usr/bin/python3 bench/bench.py)

    bench/bench.py [--only GROUP[,GROUP]] [--commands NAME[,NAME]] [--runs N]
                   [--warmup N] [--list] [--no-check] [--dem-fallback]

The machines this runs on are shared and noisy, so every group runs its
commands side by side in one process, interleaved round-robin
(A, B, C, D, A, B, C, D, ...): a burst of noise hits every command about
equally. Each run is its own process (spawned, never forked from here), started
after os.sync() (so no run pays for writing back the previous one's output),
timed wall-clock from spawn to exit, with its CPU seconds (user + system) and
peak RSS from os.wait4(). The table gives the median, min and max seconds, the
median CPU seconds and the peak RSS; ratios are given three ways: of the
median wall times (the one checked against targets), "paired" (the median over
rounds of the ratio within a round, which cancels noise that lasts a round) and
of the median CPU times (what the work costs, whatever the other load).

Groups (`--list`); a group is a list of named commands plus ratio specs, so a
new benchmark is one more entry in GROUPS:

  write_cog      the 8192 x 8192 Float32 DEM to a COG: `gdal_translate -of COG`
                 as users type it, `gdal_translate` hand-tuned with cloudio's
                 default options, cloudio through the C ABI, cloudio from Python.
  write_cog_env  (not run by default) what the library's environment changes:
                 GDAL_CACHEMAX, GDAL_NUM_THREADS, the fsync before the rename.
  write_cog_options (not run by default) COG options cloudio could default to:
                 overview resampling, DEFLATE level, ZSTD.
  python_overhead (not run by default) cloudio.write_cog from Python against
                 the C ABI: interpreter start-up, imports, the call.
  statistics     (not run by default) write_cog and map_tiles with and without
                 recording band statistics.

The source DEM is made once and cached in bench/out/ (gitignored) by
../shared/tools/make_dem.py (next to the checkout), or, when that script is
missing, by an equivalent generator here (same algorithm, same seed, same
pixels). Results go to stdout and to bench/out/results.md.
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from tasks import CHECKSUM, CHECKSUM_TOLERANCE, COMPUTE_SECONDS, RESULTS

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(REPO, "bench", "out")
BUILD = os.path.join(REPO, "build")
MAKE_DEM = os.path.normpath(os.path.join(REPO, "..", "shared", "tools", "make_dem.py"))
PYTHON = sys.executable  # Debian's /usr/bin/python3 under `make bench`
DEM_SIDE = 8192
VALIDATOR = [PYTHON, "-m", "osgeo_utils.samples.validate_cloud_optimized_geotiff"]

# Settings that change what GDAL does; runs start without them unless a
# command sets them, so the caller's shell does not skew the comparison.
SCRUBBED_ENV = ("GDAL_CACHEMAX", "GDAL_NUM_THREADS", "GDAL_DISABLE_READDIR_ON_OPEN", "CPL_DEBUG")


# ---- what a benchmark is ----------------------------------------------------

@dataclass
class Command:
    """One contender. argv may use {src}, {dst}, {python} and {bin}; dst is
    removed before every run."""
    name: str
    argv: List[str]
    what: str
    env: Dict[str, str] = field(default_factory=dict)
    writes: bool = True  # whether it writes {dst} (checked after the runs)
    # What the checksum it prints measures (bench/tasks.py's RESULTS); the
    # commands of a group with the same result must print the same checksum
    # and write the same pixels. A writer without one copies {src}.
    result: str = ""


@dataclass
class Ratio:
    """time(num) / time(den); target is (op, value) with op ">=" or "<="."""
    num: str
    den: str
    target: Optional[Tuple[str, float]] = None
    why: str = ""


@dataclass
class Group:
    name: str
    title: str
    commands: List[Command]
    ratios: List[Ratio]
    default: bool = True
    prepare: Optional[Callable[[argparse.Namespace], Dict[str, str]]] = None  # extra placeholders
    check: Optional[Callable[[Dict[str, str], List[Command]], List[str]]] = None
    # (requests, bytes) served so far, and the number of tiles a run reads:
    # the table then gives requests and KB per tile
    traffic: Optional[Callable[[], Tuple[int, int]]] = None
    tiles: int = 0


@dataclass
class Result:
    command: Command
    seconds: List[float] = field(default_factory=list)
    cpu: List[float] = field(default_factory=list)
    rss_kb: List[int] = field(default_factory=list)
    compute: List[float] = field(default_factory=list)  # reported by the task, when it does

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def median_compute(self) -> float:
        return statistics.median(self.compute)


# ---- inputs -----------------------------------------------------------------

def fallback_make_dem(out: str, rows: int, cols: int, seed: int = 42) -> None:
    """The same DEM as ../shared/tools/make_dem.py OUT ROWS COLS SEED: a
    4096-periodic spectral fractal (beta 3.2, 0..3000 m) plus N(0, 0.05)
    texture, rounded to 0.1 m, UTM 33N 30 m cells, nodata -9999, written as a
    plain striped GeoTIFF in 2048-row bands."""
    import numpy as np
    from osgeo import gdal, osr

    n, beta = 4096, 3.2
    rng = np.random.default_rng(seed)
    kx = np.fft.fftfreq(n)[:, None]
    ky = np.fft.rfftfreq(n)[None, :]
    k = np.sqrt(kx * kx + ky * ky)
    k[0, 0] = 1.0
    amp = k ** (-beta / 2.0)
    amp[0, 0] = 0.0
    phase = rng.uniform(0, 2 * np.pi, amp.shape)
    base = np.fft.irfft2(amp * np.exp(1j * phase), s=(n, n)).astype(np.float32)
    base -= base.min()
    base *= 3000.0 / max(base.max(), 1e-9)

    ds = gdal.GetDriverByName("GTiff").Create(out, cols, rows, 1, gdal.GDT_Float32, ["BIGTIFF=IF_SAFER"])
    ds.SetGeoTransform((500000.0, 30.0, 0.0, 4500000.0, 0.0, -30.0))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    ds.SetProjection(srs.ExportToWkt())
    band = ds.GetRasterBand(1)
    band.SetNoDataValue(-9999.0)
    texture = np.random.default_rng(seed + 1)
    for r0 in range(0, rows, 2048):
        h = min(2048, rows - r0)
        ri = (np.arange(r0, r0 + h) % n)[:, None]
        ci = (np.arange(cols) % n)[None, :]
        block = base[ri, ci] + texture.normal(0, 0.05, (h, cols)).astype(np.float32)
        band.WriteArray(np.round(block, 1).astype(np.float32), 0, r0)
    band.FlushCache()
    band = ds = None


def raster_size(path: str) -> Optional[Tuple[int, int]]:
    from osgeo import gdal
    gdal.UseExceptions()
    try:
        ds = gdal.Open(path)
        return ds.RasterYSize, ds.RasterXSize
    except RuntimeError:
        return None


def source_dem(force_fallback: bool = False) -> str:
    """bench/out/dem_8192.tif, made once."""
    path = os.path.join(OUT, f"dem_{DEM_SIDE}.tif")
    if raster_size(path) == (DEM_SIDE, DEM_SIDE) and not force_fallback:
        return path
    os.makedirs(OUT, exist_ok=True)
    tmp = path + ".part.tif"
    t0 = time.perf_counter()
    if os.path.exists(MAKE_DEM) and not force_fallback:
        how = MAKE_DEM
        subprocess.run([PYTHON, MAKE_DEM, tmp, str(DEM_SIDE), str(DEM_SIDE)], check=True)
    else:
        how = "bench.py's fallback generator (make_dem.py not found at %s)" % MAKE_DEM
        fallback_make_dem(tmp, DEM_SIDE, DEM_SIDE)
    os.replace(tmp, path)
    print(f"source DEM: {path} made by {how} in {time.perf_counter() - t0:.1f} s")
    return path


def c_program(name: str) -> str:
    """Build bench/NAME.c against build/libcloudio.so when out of date."""
    lib = os.path.join(BUILD, "libcloudio.so")
    if not os.path.exists(lib):
        sys.exit(f"bench: {lib} is missing; run `make` in {REPO} first")
    src = os.path.join(REPO, "bench", name + ".c")
    exe = os.path.join(OUT, name)
    deps = [src, lib, os.path.join(REPO, "include", "cloudio.h")]
    if not os.path.exists(exe) or os.path.getmtime(exe) < max(os.path.getmtime(d) for d in deps):
        os.makedirs(OUT, exist_ok=True)
        cc = os.environ.get("CC", "cc")
        subprocess.run([cc, "-std=c99", "-O2", "-Wall", "-Wextra", "-I" + os.path.join(REPO, "include"), src,
                        "-L" + BUILD, "-Wl,-rpath," + BUILD, "-lcloudio", "-o", exe], check=True)
    return exe


# ---- the groups -------------------------------------------------------------

TUNED = ["-co", "COMPRESS=DEFLATE", "-co", "PREDICTOR=FLOATING_POINT", "-co", "BIGTIFF=IF_SAFER",
         "-co", "NUM_THREADS=ALL_CPUS"]
PY_WRITE = "import sys, cloudio; cloudio.write_cog(sys.argv[1], sys.argv[2])"
PY_ENV = {"PYTHONPATH": os.path.join(REPO, "python")}


def prepare_write_cog(args: argparse.Namespace) -> Dict[str, str]:
    return {"src": source_dem(args.dem_fallback), "bin": c_program("bench_write_cog")}


def same_pixels(a: str, b: str) -> bool:
    """Whether the rasters a and b have the same size and band 1 pixels."""
    import numpy as np
    from osgeo import gdal
    gdal.UseExceptions()
    da, db = gdal.Open(a), gdal.Open(b)
    if (da.RasterXSize, da.RasterYSize) != (db.RasterXSize, db.RasterYSize):
        return False
    ba, bb = da.GetRasterBand(1), db.GetRasterBand(1)
    return all(np.array_equal(ba.ReadAsArray(0, r, da.RasterXSize, min(1024, da.RasterYSize - r)),
                              bb.ReadAsArray(0, r, da.RasterXSize, min(1024, da.RasterYSize - r)))
               for r in range(0, da.RasterYSize, 1024))


def check_outputs(places: Dict[str, str], commands: List[Command]) -> List[str]:
    """Validate every output with GDAL's COG validator, compare sizes, and
    check the full-resolution pixels: a copy of the source equals the source
    (lossless), and outputs of one result equal the first of them."""
    src = places.get("src") or places["cog"]
    src_size = os.path.getsize(src)
    lines = ["| command | output MB | vs source | validator | pixels == |", "|---|---:|---:|---|---|"]
    failed = False
    reference: Dict[str, Tuple[str, str]] = {}  # result -> (command, its output)
    for c in (c for c in commands if c.writes):
        dst = places["dst:" + c.name]
        if not os.path.exists(dst):
            lines.append(f"| {c.name} | missing | | | |")
            failed = True
            continue
        v = subprocess.run(VALIDATOR + [dst], capture_output=True, text=True)
        verdict = "valid COG" if v.returncode == 0 else "INVALID: " + (v.stdout + v.stderr).strip().replace("\n", " ")[:120]
        failed |= v.returncode != 0
        against, path = reference.setdefault(c.result, (c.name, dst)) if c.result else ("source", src)
        same = same_pixels(path, dst)
        failed |= not same
        size = os.path.getsize(dst)
        lines.append(f"| {c.name} | {size / 1e6:.1f} | {size / src_size:.3f} | {verdict} | "
                     f"{against}: {'yes' if same else 'NO'} |")
    if failed:
        lines.append("")
        lines.append("**CHECK FAILED** (see above)")
    return lines


WRITE_COG = Group(
    name="write_cog",
    title="COG write of an 8192 x 8192 Float32 DEM (256 MiB, striped GeoTIFF, in page cache)",
    commands=[
        Command("plain", ["gdal_translate", "-q", "-of", "COG", "-co", "COMPRESS=DEFLATE", "{src}", "{dst}"],
                "gdal_translate -of COG -co COMPRESS=DEFLATE (what users type)"),
        Command("hand-tuned", ["gdal_translate", "-q", "-of", "COG"] + TUNED + ["{src}", "{dst}"],
                "gdal_translate -of COG with cloudio's default options"),
        Command("cloudio-C", ["{bin}", "{src}", "{dst}"],
                "cloudio_write_cog(src, dst, NULL, ...) from C"),
        Command("cloudio-Python", ["{python}", "-c", PY_WRITE, "{src}", "{dst}"],
                "cloudio.write_cog(src, dst) in a fresh python3", env=PY_ENV),
    ],
    ratios=[
        Ratio("plain", "cloudio-C", (">=", 1.4), "speed-up over what users type"),
        Ratio("plain", "cloudio-Python", (">=", 1.4), "speed-up over what users type"),
        Ratio("hand-tuned", "cloudio-C", (">=", 1.25), "speed-up over the same options in GDAL (cloudio's encoder)"),
        Ratio("cloudio-Python", "cloudio-C", None, "cost of Python start-up + ctypes"),
    ],
    prepare=prepare_write_cog,
    check=check_outputs,
)

WRITE_COG_ENV = Group(
    name="write_cog_env",
    title="COG write: what the library's environment changes (GDAL_CACHEMAX, GDAL_NUM_THREADS, fsync)",
    commands=[
        Command("tuned", ["gdal_translate", "-q", "-of", "COG"] + TUNED + ["{src}", "{dst}"],
                "hand-tuned, GDAL's default cache (5% of RAM)"),
        Command("tuned-cache32", ["gdal_translate", "-q", "-of", "COG"] + TUNED + ["{src}", "{dst}"],
                "hand-tuned, GDAL_CACHEMAX=32MB (cloudio's default)", env={"GDAL_CACHEMAX": "32MB"}),
        Command("tuned-fsync", ["sh", "-c", "gdal_translate -q -of COG " + " ".join(TUNED) + ' "$0" "$1" && sync "$1"',
                                "{src}", "{dst}"],
                "hand-tuned, then fsync the output (as cloudio does before its rename)"),
        Command("tuned-gdalthreads", ["gdal_translate", "-q", "-of", "COG"] + TUNED + ["{src}", "{dst}"],
                "hand-tuned, GDAL_NUM_THREADS=ALL_CPUS (threaded overview computation)",
                env={"GDAL_NUM_THREADS": "ALL_CPUS"}),
        Command("cloudio-C", ["{bin}", "{src}", "{dst}"], "cloudio_write_cog, defaults (cache 32MB)"),
        Command("cloudio-C-cache5%", ["{bin}", "{src}", "{dst}"],
                "cloudio_write_cog, GDAL_CACHEMAX=5% (GDAL's default)", env={"GDAL_CACHEMAX": "5%"}),
        Command("cloudio-C-gdalthreads", ["{bin}", "{src}", "{dst}"],
                "cloudio_write_cog, GDAL_NUM_THREADS=ALL_CPUS", env={"GDAL_NUM_THREADS": "ALL_CPUS"}),
    ],
    ratios=[
        Ratio("tuned-cache32", "tuned", None, "effect of a 32 MB block cache on gdal_translate"),
        Ratio("tuned-fsync", "tuned", None, "cost of the fsync"),
        Ratio("tuned-gdalthreads", "tuned", None, "effect of GDAL_NUM_THREADS on gdal_translate"),
        Ratio("cloudio-C", "tuned-fsync", ("<=", 1.05), "library vs the same work done by hand"),
        Ratio("cloudio-C-cache5%", "cloudio-C", None, "effect of GDAL's default cache on cloudio"),
        Ratio("cloudio-C-gdalthreads", "cloudio-C", None, "effect of GDAL_NUM_THREADS on cloudio"),
    ],
    default=False,
    prepare=prepare_write_cog,
    check=check_outputs,
)

WRITE_COG_OPTIONS = Group(
    name="write_cog_options",
    title="COG write: options cloudio could default to, against its defaults and plain gdal_translate",
    commands=[
        Command("plain", ["gdal_translate", "-q", "-of", "COG", "-co", "COMPRESS=DEFLATE", "{src}", "{dst}"],
                "gdal_translate -of COG -co COMPRESS=DEFLATE"),
        Command("cloudio-C", ["{bin}", "{src}", "{dst}"], "cloudio defaults (DEFLATE, FP predictor, CUBIC overviews)"),
        Command("cloudio-C-average", ["{bin}", "{src}", "{dst}", "-", "RESAMPLING=AVERAGE"],
                "+ RESAMPLING=AVERAGE for the overviews"),
        Command("cloudio-C-level1", ["{bin}", "{src}", "{dst}", "-", "LEVEL=1"], "+ LEVEL=1 (fastest DEFLATE)"),
        Command("cloudio-C-zstd", ["{bin}", "{src}", "{dst}", "zstd"], "compress=zstd (FP predictor)"),
        Command("cloudio-C-no-ovr", ["{bin}", "{src}", "{dst}", "-", "OVERVIEWS=NONE"],
                "diagnostic only: no overviews (not a valid cloudio default)"),
    ],
    ratios=[
        Ratio("plain", "cloudio-C", (">=", 1.4), "defaults"),
        Ratio("plain", "cloudio-C-average", None, ""),
        Ratio("plain", "cloudio-C-level1", None, ""),
        Ratio("plain", "cloudio-C-zstd", None, ""),
        Ratio("cloudio-C-no-ovr", "cloudio-C", None, "share of the time not spent on overviews"),
    ],
    default=False,
    prepare=prepare_write_cog,
    check=check_outputs,
)

PY_NO_DASK = "import sys; sys.modules['dask'] = None; " + PY_WRITE  # import cloudio without dask

PYTHON_OVERHEAD = Group(
    name="python_overhead",
    title="COG write from Python: where the time over the C ABI goes",
    commands=[
        Command("cloudio-C", ["{bin}", "{src}", "{dst}"], "cloudio_write_cog from C"),
        Command("cloudio-Python", ["{python}", "-c", PY_WRITE, "{src}", "{dst}"],
                "cloudio.write_cog(src, dst) in a fresh python3", env=PY_ENV),
        Command("cloudio-Python-nodask", ["{python}", "-c", PY_NO_DASK, "{src}", "{dst}"],
                "the same with dask hidden (import cloudio then skips dask.array)", env=PY_ENV),
        Command("import-only", ["{python}", "-c", "import cloudio; cloudio.version()"],
                "python3 -c 'import cloudio' + loading libcloudio, no write", env=PY_ENV, writes=False),
    ],
    ratios=[
        Ratio("cloudio-Python", "cloudio-C", None, "Python's total overhead"),
        Ratio("cloudio-Python-nodask", "cloudio-C", None, "overhead without the eager dask import"),
        Ratio("cloudio-Python", "cloudio-Python-nodask", None, "cost of importing dask.array"),
    ],
    default=False,
    prepare=prepare_write_cog,
    check=check_outputs,
)

# ---- streaming, Dask and object stores (tasks in bench/tasks.py) -------------

TASKS = os.path.join(REPO, "bench", "tasks.py")


def stream_cog(args: argparse.Namespace) -> str:
    """The 8192 x 8192 DEM as a Float32 DEFLATE + floating-point-predictor COG."""
    path = os.path.join(OUT, f"dem_{DEM_SIDE}_cog.tif")
    if raster_size(path) != (DEM_SIDE, DEM_SIDE):
        subprocess.run(["gdal_translate", "-q", "-of", "COG"] + TUNED + [source_dem(args.dem_fallback), path + ".part"],
                       check=True)
        os.replace(path + ".part", path)
    return path


def prepare_stream(args: argparse.Namespace) -> Dict[str, str]:
    return {"cog": stream_cog(args), "tasks": TASKS, "reader": c_program("bench_read_tiles")}


def task(name: str, what: str, *args: str, env: Optional[Dict[str, str]] = None, writes: bool = False) -> Command:
    return Command(name, ["{python}", "{tasks}", *args], what, env={**PY_ENV, **(env or {})}, writes=writes,
                   result=RESULTS[args[0]])


READ_TILES = Group(
    name="read_tiles",
    title="Read every 1024 x 1024 tile of an 8192 x 8192 Float32 DEFLATE + predictor COG into numpy and sum it",
    commands=[
        task("cloudio", "cloudio.read_tiles", "read-cloudio", "{cog}"),
        task("gdal", "ReadAsArray loop, GDAL bindings", "read-gdal", "{cog}"),
        task("gdal-threads", "the same, GDAL_NUM_THREADS=ALL_CPUS", "read-gdal", "{cog}",
             env={"GDAL_NUM_THREADS": "ALL_CPUS"}),
        task("rasterio", "rasterio window loop", "read-rasterio", "{cog}"),
        task("rioxarray", "rioxarray + Dask (threads)", "read-rioxarray", "{cog}"),
        Command("cloudio-C", ["{reader}", "{cog}"], "the C reader alone (bench/bench_read_tiles.c)", writes=False,
                result=RESULTS["read-cloudio"]),
    ],
    ratios=[
        Ratio("gdal", "cloudio", (">=", 1.2), ""),
        Ratio("gdal-threads", "cloudio", (">=", 1.2), ""),
        Ratio("rasterio", "cloudio", (">=", 1.2), ""),
        Ratio("rioxarray", "cloudio", (">=", 1.2), ""),
        Ratio("cloudio", "cloudio-C", None, "what the Python layer costs"),
    ],
    prepare=prepare_stream,
)

MAP_TILES = Group(
    name="map_tiles",
    title="Slope of the 8192 x 8192 COG into a new COG",
    commands=[
        task("cloudio", "cloudio.map_tiles(slope, halo=1)", "slope-cloudio", "{cog}", "{dst}", writes=True),
        task("rioxarray", "rioxarray + dask map_overlap -> to_raster GTiff -> gdal_translate -of COG",
             "slope-rioxarray", "{cog}", "{dst}", writes=True),
    ],
    ratios=[Ratio("rioxarray", "cloudio", (">=", 3.0), "issue 12's target")],
    prepare=prepare_stream,
    check=check_outputs,
)

STATISTICS = Group(
    name="statistics",
    title="What recording band statistics costs: the write_cog and map_tiles runs, with and without",
    commands=[
        Command("cloudio-C", ["{bin}", "{src}", "{dst}"], "cloudio_write_cog: statistics by one read of the source"),
        Command("cloudio-C-nostats", ["{bin}", "{src}", "{dst}", "-", "STATISTICS=NO"], "the same, STATISTICS=NO"),
        task("slope", "cloudio.map_tiles(slope, halo=1): statistics from the tiles written", "slope-cloudio",
             "{cog}", "{dst}", writes=True),
        task("slope-nostats", "the same, statistics=False", "slope-cloudio-nostats", "{cog}", "{dst}", writes=True),
    ],
    ratios=[Ratio("cloudio-C", "cloudio-C-nostats", None, "cost of statistics in write_cog of a file"),
            Ratio("slope", "slope-nostats", None, "cost of statistics in map_tiles")],
    default=False,
    prepare=lambda args: {**prepare_write_cog(args), **prepare_stream(args)},
    check=check_outputs,
)

DASK = Group(
    name="dask",
    title="Sum and slope (map_overlap) of the 8192 x 8192 COG as a Dask array of 1024 x 1024 chunks",
    commands=[
        task(f"{op}-{lib}-{sched}", f"{lib}, {'threads' if sched == 'threads' else '2-process LocalCluster'}",
             f"dask-{op}-{lib}", "{cog}", sched)
        for sched in ("threads", "cluster") for op in ("sum", "slope") for lib in ("cloudio", "rioxarray")
    ] + [task("floor-cluster", "zeros, no raster, 2-process LocalCluster: start, compute, stop", "dask-floor", "{cog}",
              "cluster")],
    ratios=[Ratio(f"{op}-rioxarray-{sched}", f"{op}-cloudio-{sched}", (">=", 1.2), "dask_backend vs open_rasterio")
            for sched in ("threads", "cluster") for op in ("sum", "slope")]
    + [Ratio("floor-cluster", "sum-cloudio-cluster", None, "share of the cluster sum that is the cluster's own")],
    prepare=prepare_stream,
)

S3_USER, S3_SECRET = "cloudio-bench", "cloudio-bench-secret"
_servers: Dict[str, str] = {}


def s3_servers(args: argparse.Namespace) -> Dict[str, str]:
    """MinIO (.tools/minio, `make test` builds it) with the COG in bucket
    "dems", and a proxy adding 25 ms to every request; started once, stopped
    at exit."""
    if _servers:
        return _servers
    import atexit
    import shutil
    import socket
    import urllib.request
    minio = os.path.join(REPO, ".tools", "minio")
    if not os.path.exists(minio):
        subprocess.run(["make", "-C", REPO, ".tools/minio"], check=True)
    data = os.path.join(OUT, "minio")
    shutil.rmtree(data, ignore_errors=True)
    os.makedirs(os.path.join(data, "dems"))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = dict(os.environ, MINIO_ROOT_USER=S3_USER, MINIO_ROOT_PASSWORD=S3_SECRET, MINIO_BROWSER="off")
    server = subprocess.Popen([minio, "server", data, "--address", f"127.0.0.1:{port}", "--quiet"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    atexit.register(server.kill)
    for _ in range(300):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/minio/health/live", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    proxy_exe = os.path.join(OUT, "delayproxy")
    subprocess.run(["go", "build", "-o", proxy_exe, "./bench/delayproxy"], cwd=REPO, check=True)
    proxy = subprocess.Popen([proxy_exe, f"127.0.0.1:{port}", "25ms"], stdout=subprocess.PIPE, text=True)
    atexit.register(proxy.kill)
    _servers.update(direct=f"127.0.0.1:{port}", proxy=proxy.stdout.readline().strip())
    os.environ.update(AWS_HTTPS="NO", AWS_VIRTUAL_HOSTING="FALSE", AWS_ACCESS_KEY_ID=S3_USER,
                      AWS_SECRET_ACCESS_KEY=S3_SECRET, GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR",
                      AWS_S3_ENDPOINT=_servers["direct"])
    # The COG's own bytes (gdal_translate without -of COG would store a
    # striped, uncompressed GTiff).
    subprocess.run([PYTHON, "-c", UPLOAD, stream_cog(args), "/vsis3/dems/dem.tif"], check=True)
    return _servers


UPLOAD = """import sys
from osgeo import gdal
gdal.UseExceptions()
out = gdal.VSIFOpenL(sys.argv[2], "wb")
with open(sys.argv[1], "rb") as f:
    for chunk in iter(lambda: f.read(16 << 20), b""):
        if gdal.VSIFWriteL(chunk, 1, len(chunk), out) != len(chunk):
            sys.exit("upload failed")
if gdal.VSIFCloseL(out) != 0:
    sys.exit("upload failed")
"""


def proxy_traffic() -> Tuple[int, int]:
    import json
    import urllib.request
    with urllib.request.urlopen(f"http://{_servers['proxy']}/__stats") as r:
        stats = json.load(r)
    return stats["requests"], stats["bytes"]


def prepare_s3(via: str) -> Callable[[argparse.Namespace], Dict[str, str]]:
    def prepare(args: argparse.Namespace) -> Dict[str, str]:
        os.environ["AWS_S3_ENDPOINT"] = s3_servers(args)[via]
        return {"url": "s3://dems/dem.tif", "tasks": TASKS}
    return prepare


def s3_group(via: str, title: str, target: Optional[Tuple[str, float]]) -> Group:
    return Group(
        name="s3_read" + ("" if via == "proxy" else "_direct"),
        title=title,
        commands=[
            task("cloudio", "cloudio.read_tiles (16 requests in flight)", "read-cloudio", "{url}"),
            task("gdal", "ReadAsArray loop on /vsis3/", "read-gdal", "{url}"),
            task("gdal-threads", "the same, GDAL_NUM_THREADS=ALL_CPUS", "read-gdal", "{url}",
                 env={"GDAL_NUM_THREADS": "ALL_CPUS"}),
            task("rasterio", "rasterio window loop on /vsis3/", "read-rasterio", "{url}"),
        ],
        ratios=[Ratio(other, "cloudio", target, "") for other in ("gdal", "gdal-threads", "rasterio")],
        prepare=prepare_s3(via),
        traffic=proxy_traffic if via == "proxy" else None,
        tiles=(DEM_SIDE // 1024) ** 2,
    )


S3_READ = s3_group("proxy", "Read every 1024 x 1024 tile of the 8192 x 8192 COG from MinIO through a proxy adding "
                            "25 ms per request", (">=", 4.0))
S3_READ_DIRECT = s3_group("direct", "The same, straight from MinIO on loopback", None)

GROUPS = [WRITE_COG, WRITE_COG_ENV, WRITE_COG_OPTIONS, PYTHON_OVERHEAD, READ_TILES, MAP_TILES, STATISTICS, DASK, S3_READ,
          S3_READ_DIRECT]


# ---- running ------------------------------------------------------------------

def run_once(argv: Sequence[str], env: Dict[str, str], log: str) -> Tuple[float, float, int, int]:
    """Spawn argv (no fork of this process), wait for it; (wall seconds, CPU
    seconds (user + system), peak RSS in KiB, exit status). Its stdout and
    stderr go to log.

    The peak RSS comes from GNU time, which runs the command: a process
    spawned from this one inherits this one's high-water mark at exec (Linux
    folds the old address space's into ru_maxrss), and this one grows while
    it checks outputs."""
    rss_file = log + ".rss"
    actions = [(os.POSIX_SPAWN_OPEN, 1, log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
               (os.POSIX_SPAWN_DUP2, 1, 2),
               (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0)]
    t0 = time.perf_counter()
    pid = os.posix_spawnp("/usr/bin/time", ["/usr/bin/time", "-f", "%M", "-o", rss_file] + list(argv), env,
                          file_actions=actions)
    _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - t0
    with open(rss_file) as f:
        rss = int(f.read().split()[-1])
    return seconds, usage.ru_utime + usage.ru_stime, rss, os.waitstatus_to_exitcode(status)


def base_env() -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
    env.pop("PYTHONPATH", None)
    return env


def run_group(group: Group, args: argparse.Namespace) -> List[str]:
    runs, warmup = args.runs, args.warmup
    print(f"\n== {group.name}: {group.title}")
    places = {"python": PYTHON}
    if group.prepare is not None:
        places.update(group.prepare(args))
    work = os.path.join(OUT, group.name)
    os.makedirs(work, exist_ok=True)
    commands = [c for c in group.commands if not args.commands or c.name in args.commands]
    results = {c.name: Result(c) for c in commands}
    checksums: Dict[str, List[Optional[float]]] = {c.name: [] for c in commands if c.result}  # every run's
    traffic: Dict[str, Tuple[int, int]] = {}  # requests and bytes of each command's last run
    env0 = base_env()
    rounds: List[Dict[str, float]] = []
    total = warmup + runs
    t_group = time.perf_counter()
    for i in range(total):
        timed = i >= warmup
        this_round: Dict[str, float] = {}
        for c in commands:
            dst = os.path.join(work, c.name + ".tif")
            places["dst:" + c.name] = dst
            if os.path.exists(dst):
                os.remove(dst)
            # Start every run with nothing dirty in the page cache: otherwise
            # a run pays for writing back the previous run's output (which
            # gdal_translate leaves unsynced, while cloudio fsyncs its own).
            os.sync()
            argv = [a.format(dst=dst, **{k: v for k, v in places.items() if ":" not in k}) for a in c.argv]
            log = os.path.join(work, c.name + ".log")
            before = group.traffic() if group.traffic else (0, 0)
            seconds, cpu, rss, code = run_once(argv, {**env0, **c.env}, log)
            if group.traffic:
                traffic[c.name] = tuple(a - b for a, b in zip(group.traffic(), before))
            if code != 0:
                with open(log) as f:
                    sys.exit(f"bench: {c.name} failed (exit {code}): {' '.join(argv)}\n{f.read()}")
            if c.result:
                checksums[c.name].append(reported(log, CHECKSUM))
            if timed:
                results[c.name].seconds.append(seconds)
                results[c.name].cpu.append(cpu)
                results[c.name].rss_kb.append(rss)
                this_round[c.name] = seconds
                compute = reported(log, COMPUTE_SECONDS)
                if compute is not None:
                    results[c.name].compute.append(compute)
                    this_round["compute:" + c.name] = compute
        if timed:
            rounds.append(this_round)
        label = f"warm-up {i + 1}/{warmup}" if not timed else f"round {i - warmup + 1}/{runs}"
        times = "  ".join(f"{name} {this_round[name]:.2f}s" for name in this_round if ":" not in name) if timed else "done"
        print(f"  {label}: {times}", flush=True)
    print(f"  ({time.perf_counter() - t_group:.0f} s)")

    lines = [f"### {group.name}: {group.title}", "",
             f"{runs} timed runs each (+{warmup} warm-up), interleaved round-robin; "
             "wall-clock seconds from spawn to exit; CPU = user + system seconds of the process "
             "(less sensitive to other load than wall time); peak RSS from wait4().", "",
             "| command | what | median s | min s | max s | CPU s (median) | peak RSS MB |"
             + (" requests / tile | KB / tile |" if traffic else ""),
             "|---|---|---:|---:|---:|---:|---:|" + ("---:|---:|" if traffic else "")]
    for r in results.values():
        per_tile = ""
        if traffic:
            requests, served = traffic[r.command.name]
            per_tile = f" {requests / group.tiles:.2f} | {served / group.tiles / 1024:.0f} |"
        lines.append(f"| {r.command.name} | {r.command.what} | {r.median:.2f} | {min(r.seconds):.2f} | "
                     f"{max(r.seconds):.2f} | {statistics.median(r.cpu):.2f} | {max(r.rss_kb) / 1024:.0f} |" + per_tile)
    lines += ["", "| ratio (time / time) | of medians | paired | of CPU medians | target | met | meaning |",
              "|---|---:|---:|---:|---|---|---|"]
    for q in group.ratios:
        if q.num not in results or q.den not in results:
            continue
        of_medians = results[q.num].median / results[q.den].median
        paired = statistics.median(r[q.num] / r[q.den] for r in rounds)
        of_cpu = statistics.median(results[q.num].cpu) / statistics.median(results[q.den].cpu)
        if q.target is None:
            target, met = "", ""
        else:
            op, value = q.target
            target = f"{op} {value:g}"
            ok = (of_medians >= value) if op == ">=" else (of_medians <= value)
            met = "yes" if ok else "**no**"
        lines.append(f"| {q.num} / {q.den} | {of_medians:.2f} | {paired:.2f} | {of_cpu:.2f} | {target} | {met} | "
                     f"{q.why} |")
    lines += compute_table(group, results, rounds)
    lines += agreement(commands, checksums)
    lines += ["", "Runs (s): " + "; ".join(f"{r.command.name} " + " ".join(f"{s:.2f}" for s in r.seconds)
                                          for r in results.values())]
    if not args.no_check and group.check is not None:
        print("  checking outputs ...", flush=True)
        lines += ["", "Outputs of the last round:", ""] + group.check(places, commands)
    return lines


def reported(log: str, prefix: str) -> Optional[float]:
    """The number a task (bench/tasks.py) printed after prefix, if it did."""
    with open(log) as f:
        for line in f:
            if line.startswith(prefix):
                return float(line[len(prefix):])
    return None


def agreement(commands: List[Command], checksums: Dict[str, List[Optional[float]]]) -> List[str]:
    """The checksum each command printed, every run, against the first
    command of the same result: a table, and **CHECK FAILED** when one is
    missing or differs (a benchmark of a wrong answer measures nothing)."""
    if not checksums:
        return []
    lines = ["", "| command | result | checksum | agrees with |", "|---|---|---:|---|"]
    first: Dict[str, Tuple[str, float]] = {}
    failed = False
    for c in (c for c in commands if c.result):
        values = checksums[c.name]
        name, want = first.setdefault(c.result, (c.name, values[0] if values and values[0] is not None
                                                 else float("nan")))
        ok = bool(values) and all(v is not None and abs(v - want) <= CHECKSUM_TOLERANCE * max(abs(want), 1.0)
                                  for v in values)
        failed |= not ok
        shown = ", ".join("missing" if v is None else f"{v:.12g}" for v in dict.fromkeys(values)) or "missing"
        lines.append(f"| {c.name} | {c.result} | {shown} | {name}: {'yes' if ok else '**NO**'} |")
        if not ok:
            print(f"  CHECK FAILED: {c.name} printed {shown} for the {c.result}, {name} {want!r}", flush=True)
    if failed:
        lines += ["", "**CHECK FAILED** (see above)"]
    return lines


def compute_table(group: Group, results: Dict[str, Result], rounds: List[Dict[str, float]]) -> List[str]:
    """The compute call alone, as the tasks that report it timed it: what is
    left of the end-to-end time without interpreter start-up, imports, and a
    cluster's start and stop (which cost every library the same)."""
    timed = {name: r for name, r in results.items() if r.compute}
    if not timed:
        return []
    lines = ["", "The compute() call alone, timed inside the task (no interpreter start-up, imports, or "
             "cluster start and stop):", "", "| command | median s | min s | max s |", "|---|---:|---:|---:|"]
    lines += [f"| {name} | {r.median_compute:.2f} | {min(r.compute):.2f} | {max(r.compute):.2f} |"
              for name, r in timed.items()]
    lines += ["", "| ratio (compute / compute) | of medians | paired |", "|---|---:|---:|"]
    for q in group.ratios:
        if q.num in timed and q.den in timed:
            paired = statistics.median(r["compute:" + q.num] / r["compute:" + q.den] for r in rounds)
            lines.append(f"| {q.num} / {q.den} | {timed[q.num].median_compute / timed[q.den].median_compute:.2f} | "
                         f"{paired:.2f} |")
    return lines


# ---- the report -----------------------------------------------------------------

def machine() -> List[str]:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    ram = "?"
    try:
        with open("/proc/meminfo") as f:
            kb = int(next(line.split()[1] for line in f if line.startswith("MemTotal")))
        ram = f"{kb / 2**20:.1f} GiB"
    except (OSError, StopIteration):
        pass
    gdal_version = subprocess.run(["gdalinfo", "--version"], capture_output=True, text=True).stdout.strip()
    try:
        cloudio_version = subprocess.run([c_program("bench_write_cog"), "--version"], capture_output=True,
                                         text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError, SystemExit):
        cloudio_version = "?"
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return [
        f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- machine: {cpu}, {os.cpu_count()} cores ({usable} usable), {ram} RAM, "
        f"{platform.system()} {platform.release()}",
        f"- {gdal_version}; cloudio {cloudio_version}; Python {platform.python_version()} ({PYTHON})",
        f"- load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
    ]


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", action="append", default=[], metavar="GROUP",
                   help="run only these groups (repeat or comma-separate); default: every default group")
    p.add_argument("--commands", action="append", default=[], metavar="NAME",
                   help="run only these commands of each group (repeat or comma-separate); default: all")
    p.add_argument("--runs", type=int, default=5, help="timed runs per command (default 5)")
    p.add_argument("--warmup", type=int, default=1, help="untimed rounds first (default 1)")
    p.add_argument("--no-check", action="store_true", help="skip validating the outputs")
    p.add_argument("--dem-fallback", action="store_true",
                   help="(re)make the source DEM with bench.py's own generator, not make_dem.py")
    p.add_argument("--list", action="store_true", help="list the groups and exit")
    args = p.parse_args(argv)
    by_name = {g.name: g for g in GROUPS}
    if args.list:
        for g in GROUPS:
            print(f"{g.name:18s} {'(default) ' if g.default else ''}{g.title}")
            print(f"{'':18s} commands: {', '.join(c.name for c in g.commands)}")
        return 0
    wanted = [n.strip() for item in args.only for n in item.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in by_name]
    if unknown:
        p.error(f"unknown group(s) {', '.join(unknown)}; choose from {', '.join(by_name)}")
    if args.runs < 1 or args.warmup < 0:
        p.error("--runs must be >= 1 and --warmup >= 0")
    args.commands = {n.strip() for item in args.commands for n in item.split(",") if n.strip()}
    known = {c.name for g in GROUPS for c in g.commands}
    if args.commands - known:
        p.error(f"unknown command(s) {', '.join(sorted(args.commands - known))}; see --list")
    groups = [by_name[n] for n in wanted] if wanted else [g for g in GROUPS if g.default]

    os.makedirs(OUT, exist_ok=True)
    header = ["## cloudio benchmarks", ""] + machine()
    print("\n".join(header), flush=True)
    body: List[str] = []
    t0 = time.perf_counter()
    for g in groups:
        body += [""] + run_group(g, args)
    header.append(f"- load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
                  f"total {time.perf_counter() - t0:.0f} s")
    report = "\n".join(header + body) + "\n"
    print()
    print(report)
    path = os.path.join(OUT, "results.md")
    with open(path, "w") as f:
        f.write(report)
    print(f"written to {os.path.relpath(path, REPO)}")
    return 1 if "**CHECK FAILED**" in report else 0


if __name__ == "__main__":
    sys.exit(main())
