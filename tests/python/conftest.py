"""Shared helpers for the Python tests.

pyramids is not installed here (and not on PyPI for this GDAL). The original
``digitalrivers.cloud_io`` examples and tests build their rasters with
``pyramids.dataset.Dataset.create_from_array``; :class:`PyramidsLikeDataset`
below is a tiny stand-in with the parts cloudio relies on: the GDAL dataset in
``.raster`` and the size in ``.rows`` / ``.columns``. When the real pyramids
cannot be imported, the stand-in is registered as ``pyramids.dataset`` so that
the docstring examples, ported verbatim apart from the ``from cloudio import``
line, run unchanged. With the real pyramids installed, they run against it.
"""
from __future__ import annotations

import itertools
import os
import subprocess
import sys
import textwrap
import types

import numpy as np
import pytest
from osgeo import gdal, osr

# GDAL >= 3.10 refuses "MEM:::" dataset names unless this is YES: the tests
# must pass there too, so they run with it off (a no-op on GDAL 3.6).
os.environ["GDAL_MEM_ENABLE_OPEN"] = "NO"

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYTHON_DIR = os.path.join(ROOT, "python")

GT = (500000.0, 30.0, 0.0, 4500000.0, 0.0, -30.0)
EPSG = 32633
GDAL_TYPES = {np.dtype(np.uint8): gdal.GDT_Byte, np.dtype(np.uint16): gdal.GDT_UInt16,
              np.dtype(np.int16): gdal.GDT_Int16, np.dtype(np.uint32): gdal.GDT_UInt32,
              np.dtype(np.int32): gdal.GDT_Int32, np.dtype(np.float32): gdal.GDT_Float32,
              np.dtype(np.float64): gdal.GDT_Float64, np.dtype(np.int64): gdal.GDT_Int64,
              np.dtype(np.uint64): gdal.GDT_UInt64}


class PyramidsLikeDataset:
    """A stand-in for ``pyramids.dataset.Dataset``: ``.raster`` (a GDAL
    dataset), ``.rows``, ``.columns`` and the ``create_from_array`` factory
    with pyramids' keyword names."""

    def __init__(self, raster):
        self.raster = raster

    @property
    def rows(self) -> int:
        return self.raster.RasterYSize

    @property
    def columns(self) -> int:
        return self.raster.RasterXSize

    @classmethod
    def create_from_array(cls, arr, top_left_corner=(0.0, 0.0), cell_size=1.0, epsg=4326, no_data_value=None,
                          driver_type="MEM", path=None):
        return cls(gdal_dataset(arr, gt=(top_left_corner[0], cell_size, 0.0, top_left_corner[1], 0.0, -cell_size),
                                epsg=epsg, nodata=no_data_value, path=path if driver_type != "MEM" else None))


def _install_pyramids_stand_in() -> None:
    try:
        import pyramids.dataset  # noqa: F401  (the real one wins)
    except ImportError:
        package = types.ModuleType("pyramids")
        package.__path__ = []  # a package, so "pyramids.dataset" imports
        package.__doc__ = "Test stand-in for pyramids (see tests/python/conftest.py)."
        module = types.ModuleType("pyramids.dataset")
        module.Dataset = PyramidsLikeDataset
        package.dataset = module
        sys.modules["pyramids"], sys.modules["pyramids.dataset"] = package, module


_install_pyramids_stand_in()


def srs_wkt(epsg: int = EPSG) -> str:
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    return srs.ExportToWkt()


def gdal_dataset(data: np.ndarray, gt=GT, epsg=EPSG, nodata=None, path=None):
    """A GDAL dataset holding data (rows x cols or bands x rows x cols): in
    memory (MEM) without path, else a GTiff left open (not flushed)."""
    bands = data if data.ndim == 3 else data[np.newaxis]
    if path is None:
        ds = gdal.GetDriverByName("MEM").Create("", bands.shape[2], bands.shape[1], bands.shape[0],
                                                GDAL_TYPES[data.dtype])
    else:
        ds = gdal.GetDriverByName("GTiff").Create(str(path), bands.shape[2], bands.shape[1], bands.shape[0],
                                                  GDAL_TYPES[data.dtype])
    if gt is not None:
        ds.SetGeoTransform(gt)
    if epsg is not None:
        ds.SetProjection(srs_wkt(epsg))
    for i, band in enumerate(bands, 1):
        ds.GetRasterBand(i).WriteArray(band)
        if nodata is not None:
            ds.GetRasterBand(i).SetNoDataValue(nodata)
    return ds


def source_tif(path, data: np.ndarray, nodata=None, epsg=EPSG, gt=GT) -> str:
    """Write data as a plain (striped) GeoTIFF at path; return the path as str."""
    ds = gdal_dataset(data, gt=gt, epsg=epsg, nodata=nodata, path=path)
    ds.FlushCache()
    ds = None
    return str(path)


def sample(dtype, shape, seed: int = 0) -> np.ndarray:
    """Smooth terrain plus noise, of dtype and shape (rows x cols or bands x rows x cols)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:shape[-2], 0:shape[-1]]
    base = 100 + 50 * np.sin(x / 17.0) * np.cos(y / 11.0)
    n = shape[0] if len(shape) == 3 else 1
    bands = np.stack([base + rng.normal(0, 3, base.shape) + 10 * b for b in range(n)])
    data = bands if len(shape) == 3 else bands[0]
    dtype = np.dtype(dtype)
    if dtype.kind in "ui":
        data = np.clip(np.round(data), 0, 250)
    return data.astype(dtype)


def validate_cog(path) -> None:
    """GDAL's own COG validator must accept path."""
    result = subprocess.run([sys.executable, "-m", "osgeo_utils.samples.validate_cloud_optimized_geotiff", str(path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{path} is not a valid COG:\n{result.stdout}{result.stderr}"


def python_env(**extra) -> dict:
    env = dict(os.environ, PYTHONPATH=PYTHON_DIR, PYTHONDONTWRITEBYTECODE="1")
    env.update(extra)
    return env


def run_python(code: str, timeout: float = 60, env=None, args=()) -> subprocess.CompletedProcess:
    """Run code in a fresh interpreter (this one) with PYTHONPATH=python."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True,
                          timeout=timeout, env=env if env is not None else python_env())


def reference_windows(rows, cols, tile_rows, tile_cols, overlap=0):
    """DESIGN.md's tile_windows algorithm, in plain Python: row-first tuples."""
    if tile_rows <= 0 or tile_cols <= 0:
        raise ValueError("tile_rows and tile_cols must be positive")
    if overlap < 0:
        raise ValueError("overlap must be >= 0")
    step_r, step_c = max(1, tile_rows - overlap), max(1, tile_cols - overlap)
    for r_off in itertools.count(0, step_r):
        if r_off >= rows:
            return
        for c_off in range(0, cols, step_c):
            yield (r_off, c_off, min(tile_rows, rows - r_off), min(tile_cols, cols - c_off))


def every_tile(tiles, shape, tile_rows, tile_cols, overlap=0):
    """The (window, tile) pairs of ``tiles`` (a read_tiles iterator over a
    raster of ``shape``, rows and cols last), checking that they come in
    reference_windows' order and that none is missing when they end."""
    expected = reference_windows(*shape[-2:], tile_rows, tile_cols, overlap)
    for win, tile in tiles:
        assert tuple(win) == next(expected, None), f"read_tiles yielded {tuple(win)} out of order"
        yield win, tile
    missing = list(expected)
    assert not missing, f"read_tiles ended before {len(missing)} windows, the first {missing[0]}"


@pytest.fixture
def listing(tmp_path):
    """The sorted names in tmp_path, to compare before and after a write."""
    return lambda: sorted(os.listdir(tmp_path))


# --- test tiers -------------------------------------------------------------
# `make test` runs every test; `make check` (CLOUDIO_TEST_TIER=check) runs
# `-m "not servers and not heavy"`: the tests that need no server process and
# no multi-GiB raster. A test needs one
# when it uses a fixture below or starts one itself (then it carries
# @pytest.mark.servers); start_server() fails a test of the check tier that
# starts a server without saying so, so that the marker cannot fall behind.
SERVER_FIXTURES = {"minio", "azurite", "gcs", "http_server", "range_server"}


def pytest_configure(config):
    config.addinivalue_line("markers", "servers: starts a server on 127.0.0.1 (MinIO, Azurite, fake-gcs-server, "
                                       "the range server); `make check` leaves it to `make test`")
    config.addinivalue_line("markers", "heavy: streams a multi-GiB raster to measure memory; `make check` leaves "
                                       "it to `make test`")


def pytest_collection_modifyitems(items):
    for item in items:
        if SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.servers)


def require_servers(what: str) -> None:
    """Fails the running test when the check tier runs it: it starts ``what``."""
    if os.environ.get("CLOUDIO_TEST_TIER") == "check":
        pytest.fail(f"this test starts {what} but `make check` runs it: mark it @pytest.mark.servers "
                    f"or use one of the fixtures {sorted(SERVER_FIXTURES)}")


def start_server(argv, **popen) -> subprocess.Popen:
    """The server process ``argv`` (an emulator or the range server)."""
    require_servers(os.path.basename(argv[0]))
    return subprocess.Popen(argv, **popen)


@pytest.fixture(scope="module")
def range_server(tmp_path_factory):
    """tests/rangeserver (a counting HTTP Range server, built here) serving
    a fresh folder: its base URL and the folder."""
    root = tmp_path_factory.mktemp("http")
    exe = os.path.join(ROOT, "build", "rangeserver")
    require_servers("the range server")
    subprocess.run(["go", "build", "-o", exe, "./tests/rangeserver"], cwd=ROOT, check=True)
    proc = start_server([exe, str(root)], stdout=subprocess.PIPE, text=True)
    yield proc.stdout.readline().strip(), root
    proc.terminate()
    proc.wait()
