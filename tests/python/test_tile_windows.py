"""tile_windows: the original's semantics and examples, the TileWindow views,
errors at call time, property tests against the DESIGN.md algorithm, every
kind of dataset, and laziness on huge rasters."""
import itertools
import time
import types

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from osgeo import gdal

import cloudio
from cloudio import TileWindow, tile_windows
from conftest import PyramidsLikeDataset, gdal_dataset, reference_windows, source_tif


def pyramids(array):
    return PyramidsLikeDataset.create_from_array(array, top_left_corner=(0, 0), cell_size=1.0, epsg=4326)


# --- the original's example and tests, ported ---------------------------------------------------


def test_5x5_in_3x3_tiles():
    windows = list(tile_windows(pyramids(np.zeros((5, 5), np.float32)), tile_rows=3, tile_cols=3))
    assert windows == [(0, 0, 3, 3), (0, 3, 3, 2), (3, 0, 2, 3), (3, 3, 2, 2)]
    assert [(w[0], w[1], w[2], w[3]) for w in windows] == [tuple(w) for w in windows]
    assert all(type(w) is TileWindow for w in windows)
    assert all(type(v) is int for w in windows for v in w)


def test_10x10_in_4x4_has_nine_clipped_tiles():
    windows = list(tile_windows(pyramids(np.zeros((10, 10), np.float32)), tile_rows=4, tile_cols=4))
    assert len(windows) == 9
    assert TileWindow(row_off=8, col_off=8, n_rows=2, n_cols=2) in windows
    assert (8, 8, 2, 2) in windows


def test_windows_cover_every_cell_exactly_once():
    covered = np.zeros((13, 17), int)
    for win in tile_windows(pyramids(np.zeros((13, 17), np.float32)), tile_rows=5, tile_cols=7):
        covered[win.slices] += 1
    assert (covered == 1).all()


def test_each_window_reads_the_tile_it_names():
    """The regression guard for the original's transposed reads: non-square
    tiles of a non-square raster, read through numpy and through GDAL."""
    z = np.arange(7 * 11, dtype=np.float32).reshape(7, 11)
    ds = pyramids(z)
    band = ds.raster.GetRasterBand(1)
    off_diagonal = 0
    for win in tile_windows(ds, tile_rows=3, tile_cols=4):
        expected = z[win.row_off:win.row_off + win.n_rows, win.col_off:win.col_off + win.n_cols]
        np.testing.assert_array_equal(z[win.slices], expected)
        np.testing.assert_array_equal(band.ReadAsArray(*win.gdal), expected)
        np.testing.assert_array_equal(ds.raster.ReadAsArray(*win.gdal), expected)
        off_diagonal += win.row_off != win.col_off
    assert off_diagonal > 0


# --- TileWindow -------------------------------------------------------------------------------


def test_tile_window_views_and_tuple_behaviour():
    win = TileWindow(0, 4, 3, 2)
    assert win == (0, 4, 3, 2) and hash(win) == hash((0, 4, 3, 2))
    assert (win.row_off, win.col_off, win.n_rows, win.n_cols) == (0, 4, 3, 2)
    assert win.gdal == (4, 0, 2, 3)
    assert win.slices == (slice(0, 3), slice(4, 6))
    row_off, col_off, n_rows, n_cols = win
    assert (row_off, col_off, n_rows, n_cols) == (0, 4, 3, 2)
    for attribute in ("row_off", "gdal", "slices"):
        with pytest.raises(AttributeError):
            setattr(win, attribute, 1)
    assert TileWindow._fields == ("row_off", "col_off", "n_rows", "n_cols")


def test_off_diagonal_tile_of_a_non_square_array_via_slices_and_gdal(tmp_path):
    z = np.arange(10 * 12, dtype=np.int16).reshape(10, 12)
    path = source_tif(tmp_path / "z.tif", z)
    ds = gdal.Open(path)
    win = list(tile_windows(path, 4, 3))[2]  # the third tile of the first row of tiles
    assert win == (0, 6, 4, 3)
    np.testing.assert_array_equal(z[win.slices], z[0:4, 6:9])
    np.testing.assert_array_equal(ds.ReadAsArray(*win.gdal), z[0:4, 6:9])
    # what the original's documentation invited, the row-first tuple passed to
    # GDAL as x-first, reads other cells in another shape
    np.testing.assert_array_equal(ds.ReadAsArray(*win), z[6:9, 0:4])


# --- empty rasters and errors ------------------------------------------------------------------


@pytest.mark.parametrize("dataset", [(0, 100), (100, 0), (0, 0), np.zeros((0, 5)), np.zeros((3, 5, 0)),
                                     types.SimpleNamespace(rows=0, columns=10)])
def test_empty_raster_yields_nothing(dataset):
    assert list(tile_windows(dataset, 10, 10)) == []


@pytest.mark.parametrize("kwargs", [{"tile_rows": 0}, {"tile_cols": 0}, {"tile_rows": -3}, {"tile_cols": -1},
                                    {"tile_rows": 0, "tile_cols": 0, "overlap": -1}])
def test_non_positive_tiles_raise_at_call_time(kwargs):
    with pytest.raises(ValueError, match=r"^tile_rows and tile_cols must be positive$") as info:
        tile_windows(np.zeros((5, 5)), **kwargs)  # no next(): the error comes from the call itself
    assert isinstance(info.value, cloudio.InvalidArgumentError)


@pytest.mark.parametrize("overlap", [-1, -1024])
def test_negative_overlap_raises_at_call_time(overlap):
    with pytest.raises(ValueError, match=r"^overlap must be >= 0$"):
        tile_windows(np.zeros((5, 5)), overlap=overlap)


def test_errors_raise_even_for_an_empty_raster():
    with pytest.raises(ValueError, match="positive"):
        tile_windows((0, 0), tile_rows=0)


@pytest.mark.parametrize("name", ["tile_rows", "tile_cols", "overlap"])
@pytest.mark.parametrize("bad", [1.5, 2.0, np.float64(2), "3", None, True, [2]])
def test_non_integer_sizes_name_the_argument(name, bad):
    with pytest.raises(ValueError, match=name):
        tile_windows(np.zeros((5, 5)), **{name: bad})


def test_sizes_beyond_64_bits_name_the_argument():
    with pytest.raises(ValueError, match="tile_rows"):
        tile_windows((5, 5), tile_rows=2**64)


def test_numpy_integer_sizes_accepted():
    assert list(tile_windows(np.zeros((4, 4)), np.int64(2), np.int32(4), np.uint8(0))) == [(0, 0, 2, 4), (2, 0, 2, 4)]


def test_huge_tiles_give_one_window():
    assert list(tile_windows((7, 9), 2**40, 2**40)) == [(0, 0, 7, 9)]


# --- where the size comes from -----------------------------------------------------------------


def test_size_sources(tmp_path):
    z = np.zeros((9, 13), np.float32)
    path = tmp_path / "z.tif"
    source_tif(path, z)
    expected = list(reference_windows(9, 13, 4, 5, 0))
    assert list(tile_windows(str(path), 4, 5)) == expected       # a path, opened by the library
    assert list(tile_windows(path, 4, 5)) == expected            # os.PathLike
    assert list(tile_windows(gdal.Open(str(path)), 4, 5)) == expected
    assert list(tile_windows(gdal_dataset(z), 4, 5)) == expected  # MEM
    assert list(tile_windows(z, 4, 5)) == expected
    assert list(tile_windows(np.zeros((2, 9, 13)), 4, 5)) == expected  # bands x rows x cols
    assert list(tile_windows(pyramids(z), 4, 5)) == expected
    assert list(tile_windows((9, 13), 4, 5)) == expected


def test_rows_and_columns_win_whenever_present():
    """As in the original, .rows / .columns are the size, whatever else the object has."""
    other = gdal_dataset(np.zeros((3, 3), np.float32))
    ds = types.SimpleNamespace(rows=9, columns=13, raster=other, RasterXSize=3, RasterYSize=3, shape=(3, 3))
    assert list(tile_windows(ds, 4, 5)) == list(reference_windows(9, 13, 4, 5, 0))
    assert list(tile_windows(types.SimpleNamespace(rows=np.int64(2), columns=np.int32(3)), 1, 1)) == \
        list(reference_windows(2, 3, 1, 1, 0))


def test_pyramids_like_without_rows_uses_its_raster():
    ds = types.SimpleNamespace(raster=gdal_dataset(np.zeros((6, 4), np.float32)))
    assert list(tile_windows(ds, 4, 4)) == [(0, 0, 4, 4), (4, 0, 2, 4)]


def test_bad_datasets(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.tif"):
        tile_windows(tmp_path / "missing.tif")
    text = tmp_path / "text.tif"
    text.write_text("not a raster")
    with pytest.raises(cloudio.CloudIOError) as info:
        tile_windows(text)
    assert not isinstance(info.value, FileNotFoundError)
    with pytest.raises(ValueError, match="2 dimensions"):
        tile_windows(np.zeros(5))
    with pytest.raises(ValueError, match="rows"):
        tile_windows(types.SimpleNamespace(rows=-1, columns=4))
    with pytest.raises(TypeError, match="dataset"):
        tile_windows(object())


# --- the algorithm -----------------------------------------------------------------------------


@pytest.mark.parametrize("shape,tile,overlap", [((10, 10), (4, 4), 1), ((3, 2), (2, 2), 5), ((7, 7), (3, 3), 3),
                                                ((1, 1), (1, 1), 0), ((5, 9), (5, 9), 0), ((6, 6), (4, 2), 1)])
def test_examples_match_reference(shape, tile, overlap):
    assert list(tile_windows(shape, *tile, overlap=overlap)) == list(reference_windows(*shape, *tile, overlap))


@settings(max_examples=400, deadline=None)
@given(rows=st.integers(0, 80), cols=st.integers(0, 80), tile_rows=st.integers(-2, 90),
       tile_cols=st.integers(-2, 90), overlap=st.integers(-2, 100), kind=st.sampled_from(["tuple", "array", "rows"]))
def test_property_matches_reference(rows, cols, tile_rows, tile_cols, overlap, kind):
    dataset = {"tuple": (rows, cols), "array": np.empty((rows, cols), np.uint8),
               "rows": types.SimpleNamespace(rows=rows, columns=cols)}[kind]
    try:
        expected = list(reference_windows(rows, cols, tile_rows, tile_cols, overlap))
    except ValueError as exc:
        with pytest.raises(ValueError, match=f"^{exc}$"):
            tile_windows(dataset, tile_rows, tile_cols, overlap)
        return
    got = list(tile_windows(dataset, tile_rows, tile_cols, overlap))
    assert got == expected
    if overlap == 0:  # a partition
        covered = np.zeros((rows, cols), int)
        for win in got:
            covered[win.slices] += 1
        assert (covered == 1).all()


@settings(max_examples=60, deadline=None)
@given(rows=st.integers(1, 10**6), cols=st.integers(1, 10**6), tile_rows=st.integers(1, 5000),
       tile_cols=st.integers(1, 5000), overlap=st.integers(0, 6000), skip=st.integers(0, 3))
def test_property_prefixes_on_big_rasters(rows, cols, tile_rows, tile_cols, overlap, skip):
    """The first few thousand windows of big rasters, across page boundaries."""
    n = 4096 * skip + 100
    got = list(itertools.islice(tile_windows((rows, cols), tile_rows, tile_cols, overlap), n))
    assert got == list(itertools.islice(reference_windows(rows, cols, tile_rows, tile_cols, overlap), n))


def test_pages_join_seamlessly():
    # 100 * 87 = 8700 windows: more than two pages of the C call
    assert list(tile_windows((100, 173), 1, 2)) == list(reference_windows(100, 173, 1, 2, 0))


# --- laziness ----------------------------------------------------------------------------------


def test_lazy_on_a_400k_raster_in_1_cell_tiles():
    """1.6e11 windows: the first comes at once, never all of them."""
    start = time.perf_counter()
    it = tile_windows((400_000, 400_000), 1, 1)
    assert next(it) == (0, 0, 1, 1)
    assert time.perf_counter() - start < 5  # loose: a materialised list would take hours
    got = list(itertools.islice(it, 5000))
    assert got == list(itertools.islice(reference_windows(400_000, 400_000, 1, 1, 0), 1, 5001))


def test_lazy_on_a_400k_raster_with_overlap_near_the_tile():
    it = tile_windows(types.SimpleNamespace(rows=400_000, columns=400_000), 1024, 1024, overlap=1023)
    assert list(itertools.islice(it, 5000)) == list(itertools.islice(reference_windows(400_000, 400_000, 1024, 1024, 1023),
                                                                     5000))


def test_iterators_are_independent():
    a, b = tile_windows((3, 3), 1, 1), tile_windows((3, 3), 1, 1)
    assert next(a) == (0, 0, 1, 1)
    assert list(b) == list(reference_windows(3, 3, 1, 1, 0))
    assert len(list(a)) == 8


def test_the_default_tile_is_the_librarys():
    """Every tiling signature defaults to the tile size the library's reader defaults to."""
    import ctypes
    import inspect

    from cloudio import _lib
    from cloudio.windows import DEFAULT_TILE
    opts = _lib.ReaderOptions()
    _lib.library().cloudio_reader_options_init(ctypes.byref(opts))
    assert opts.tile_rows == opts.tile_cols == DEFAULT_TILE
    for func in (cloudio.tile_windows, cloudio.read_tiles, cloudio.map_tiles):
        params = inspect.signature(func).parameters
        assert params["tile_rows"].default == params["tile_cols"].default == DEFAULT_TILE, func
