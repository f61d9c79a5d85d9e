"""tile_windows: the original's semantics, its examples and tests, property
tests against the reference algorithm, and laziness on huge rasters."""
import itertools
import types

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from osgeo import gdal

from cloudio import TileWindow, tile_windows


def reference(rows, cols, tile_rows, tile_cols, overlap):
    """The algorithm of DESIGN.md, as the original digitalrivers.cloud_io wrote it."""
    step_r, step_c = max(1, tile_rows - overlap), max(1, tile_cols - overlap)
    for r in range(0, rows, step_r):
        for c in range(0, cols, step_c):
            yield (r, c, min(tile_rows, rows - r), min(tile_cols, cols - c))


def pyramids_like(array):
    """A stand-in for a pyramids Dataset (not installable here): the GDAL
    dataset in ``.raster`` and the size in ``.rows`` / ``.columns``."""
    ds = gdal.GetDriverByName("MEM").Create("", array.shape[1], array.shape[0], 1, gdal.GDT_Float32)
    ds.GetRasterBand(1).WriteArray(array)
    ds.SetGeoTransform((0, 1, 0, 0, 0, -1))
    return types.SimpleNamespace(raster=ds, rows=array.shape[0], columns=array.shape[1])


def test_original_example_5x5_in_3x3():
    windows = list(tile_windows(pyramids_like(np.zeros((5, 5), np.float32)), tile_rows=3, tile_cols=3))
    assert windows == [(0, 0, 3, 3), (0, 3, 3, 2), (3, 0, 2, 3), (3, 3, 2, 2)]
    assert all(isinstance(w, TileWindow) for w in windows)


def test_windows_cover_the_raster_exactly_once():
    z = np.zeros((10, 7))
    for win in tile_windows(z, 4, 3):
        z[win.slices] += 1
    assert (z == 1).all()


def test_overlap_repeats_cells():
    windows = list(tile_windows(np.zeros((10, 10)), tile_rows=4, tile_cols=4, overlap=1))
    assert windows[:2] == [(0, 0, 4, 4), (0, 3, 4, 4)]
    assert windows == list(reference(10, 10, 4, 4, 1))


def test_overlap_at_least_tile_steps_by_one():
    assert list(tile_windows(np.zeros((3, 2)), 2, 2, overlap=5)) == list(reference(3, 2, 2, 2, 5))


def test_empty_raster_yields_nothing():
    assert list(tile_windows((0, 100), 10, 10)) == []
    assert list(tile_windows(np.zeros((0, 5)), 10, 10)) == []


@pytest.mark.parametrize("kwargs", [{"tile_rows": 0}, {"tile_cols": 0}, {"tile_rows": -3}, {"tile_cols": -1}])
def test_non_positive_tiles_raise_at_call_time(kwargs):
    with pytest.raises(ValueError, match="^tile_rows and tile_cols must be positive$"):
        tile_windows(np.zeros((5, 5)), **kwargs)


def test_negative_overlap_raises():
    with pytest.raises(ValueError, match="^overlap must be >= 0$"):
        tile_windows(np.zeros((5, 5)), overlap=-1)


@pytest.mark.parametrize("bad", [1.5, "3", None, True])
def test_non_integer_sizes_name_the_argument(bad):
    with pytest.raises(ValueError, match="tile_cols"):
        tile_windows(np.zeros((5, 5)), tile_cols=bad)


def test_numpy_integer_sizes_accepted():
    assert list(tile_windows(np.zeros((4, 4)), np.int64(2), np.int32(4))) == [(0, 0, 2, 4), (2, 0, 2, 4)]


def test_gdal_and_slices_views_read_the_same_cells(tmp_path):
    """The original documented GDAL order but yielded row-first tuples, which
    transposed reads of off-diagonal tiles; the views make that impossible."""
    z = np.arange(7 * 11, dtype=np.float32).reshape(7, 11)
    path = str(tmp_path / "z.tif")
    ds = gdal.GetDriverByName("GTiff").Create(path, 11, 7, 1, gdal.GDT_Float32)
    ds.GetRasterBand(1).WriteArray(z)
    band = ds.GetRasterBand(1)
    for win in tile_windows(ds, 3, 4):
        np.testing.assert_array_equal(band.ReadAsArray(*win.gdal), z[win.slices])
    win = TileWindow(0, 4, 3, 4)
    assert win.gdal == (4, 0, 4, 3)
    assert win.slices == (slice(0, 3), slice(4, 8))
    with pytest.raises(AttributeError):
        win.row_off = 1


def test_size_sources(tmp_path):
    z = np.zeros((9, 13), np.float32)
    path = tmp_path / "z.tif"
    ds = gdal.GetDriverByName("GTiff").Create(str(path), 13, 9, 1, gdal.GDT_Float32)
    ds = None
    expected = list(reference(9, 13, 4, 5, 0))
    assert list(tile_windows(str(path), 4, 5)) == expected      # a path, read by the library
    assert list(tile_windows(path, 4, 5)) == expected           # os.PathLike
    assert list(tile_windows(gdal.Open(str(path)), 4, 5)) == expected
    assert list(tile_windows(z, 4, 5)) == expected
    assert list(tile_windows(np.zeros((2, 9, 13)), 4, 5)) == expected  # bands x rows x cols
    # .rows / .columns win whenever an object has them, as in the original
    assert list(tile_windows(types.SimpleNamespace(rows=9, columns=13), 4, 5)) == expected


def test_bad_datasets():
    with pytest.raises(FileNotFoundError):
        tile_windows("/nonexistent/dem.tif")
    with pytest.raises(ValueError):
        tile_windows(np.zeros(5))
    with pytest.raises(TypeError):
        tile_windows(object())


@settings(max_examples=300, deadline=None)
@given(rows=st.integers(0, 60), cols=st.integers(0, 60), tile_rows=st.integers(1, 70),
       tile_cols=st.integers(1, 70), overlap=st.integers(0, 80))
def test_property_matches_reference(rows, cols, tile_rows, tile_cols, overlap):
    assert list(tile_windows((rows, cols), tile_rows, tile_cols, overlap)) == \
        list(reference(rows, cols, tile_rows, tile_cols, overlap))


def test_lazy_on_huge_rasters():
    """400k x 400k in 1-cell tiles: 1.6e11 windows, paged, first one at once."""
    it = tile_windows((400_000, 400_000), 1, 1)
    assert next(it) == (0, 0, 1, 1)
    got = list(itertools.islice(it, 5000))
    assert got == list(itertools.islice(reference(400_000, 400_000, 1, 1, 0), 1, 5001))


def test_pages_join_seamlessly():
    # more windows than one page (4096) of the C call
    assert list(tile_windows((100, 173), 1, 2, overlap=0)) == list(reference(100, 173, 1, 2, 0))
