"""read_window, read_tiles and map_tiles against GDAL's own reads and
whole-array computations."""
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from osgeo import gdal, osr

import cloudio
from cloudio import TileWindow, map_tiles, read_tiles, read_window, write_cog
from conftest import every_tile, reference_windows

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PYTHON = sys.executable


def slope(padded, cell=30.0):
    """3 x 3 slope (degrees) of the core of a tile padded by one cell."""
    z = padded.astype(np.float64)
    dzdx = (z[..., 1:-1, 2:] - z[..., 1:-1, :-2]) / (2 * cell)
    dzdy = (z[..., 2:, 1:-1] - z[..., :-2, 1:-1]) / (2 * cell)
    return np.degrees(np.arctan(np.hypot(dzdx, dzdy))).astype(np.float32)


def whole_slope(z):
    pad = [(0, 0)] * (z.ndim - 2) + [(1, 1), (1, 1)]
    return slope(np.pad(z, pad, mode="edge"))


def terrain(rows, cols, bands=1, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:rows, 0:cols]
    out = [(1000 + 300 * np.sin(x / 37.0 + b) * np.cos(y / 23.0) + rng.normal(0, 2, (rows, cols))).astype(dtype)
           for b in range(bands)]
    return np.stack(out) if bands > 1 else out[0]


def make_raster(path, data, nodata=-9999.0, options=None):
    return write_cog(data, str(path), geotransform=(500000.0, 30.0, 0.0, 4500000.0, 0.0, -30.0), crs=32633,
                     nodata=nodata, options=options)


@pytest.fixture(scope="module")
def dem(tmp_path_factory):
    d = tmp_path_factory.mktemp("stream")
    data = terrain(700, 530)
    return make_raster(d / "dem.tif", data, options={"BLOCKSIZE": 256}), data


@pytest.fixture(scope="module")
def dem3(tmp_path_factory):
    d = tmp_path_factory.mktemp("stream3")
    data = terrain(301, 257, bands=3, dtype=np.int16)
    return make_raster(d / "dem3.tif", data, nodata=-1), data


def gdal_read(path, win, bands=None):
    ds = gdal.Open(path)
    bands = bands or list(range(1, ds.RasterCount + 1))
    out = np.stack([ds.GetRasterBand(b).ReadAsArray(*win.gdal) for b in bands])
    return out[0] if len(bands) == 1 else out


@pytest.mark.parametrize("tile,overlap", [((256, 256), 0), ((100, 130), 0), ((333, 97), 7), ((700, 530), 0), ((1, 530), 0)])
def test_read_tiles_equal_gdal(dem, tile, overlap):
    path, data = dem
    for win, tile_data in every_tile(read_tiles(path, *tile, overlap), data.shape, *tile, overlap):
        assert isinstance(win, TileWindow)
        np.testing.assert_array_equal(tile_data, gdal_read(path, win))


def test_read_tiles_bands_and_shapes(dem3):
    path, data = dem3
    for win, tile in every_tile(read_tiles(path, 128, 100), data.shape, 128, 100):
        assert tile.shape == (3, win.n_rows, win.n_cols) and tile.dtype == np.int16
        np.testing.assert_array_equal(tile, data[(slice(None),) + win.slices])
    for win, tile in every_tile(read_tiles(path, 128, 100, bands=[3, 1]), data.shape, 128, 100):
        np.testing.assert_array_equal(tile, data[[2, 0]][(slice(None),) + win.slices])
    for win, tile in every_tile(read_tiles(path, 128, 100, bands=2), data.shape, 128, 100):
        assert tile.shape == (win.n_rows, win.n_cols)
        np.testing.assert_array_equal(tile, data[1][win.slices])


def test_read_tiles_from_gdal_dataset_and_array(dem):
    path, data = dem
    ds = gdal.Open(path)
    for win, tile in every_tile(read_tiles(ds, 300, 300), data.shape, 300, 300):
        np.testing.assert_array_equal(tile, data[win.slices])
    for win, tile in every_tile(read_tiles(data, 300, 300), data.shape, 300, 300):
        np.testing.assert_array_equal(tile, data[win.slices])


def test_read_tiles_striped_and_uncompressed(tmp_path):
    data = terrain(90, 70)
    drv = gdal.GetDriverByName("GTiff")
    for opts in (["COMPRESS=NONE"], ["COMPRESS=DEFLATE", "PREDICTOR=3"], ["TILED=YES", "BLOCKXSIZE=32", "BLOCKYSIZE=32",
                                                                           "COMPRESS=ZSTD", "PREDICTOR=3"]):
        path = str(tmp_path / ("s_" + "_".join(opts).replace("=", "") + ".tif"))
        ds = drv.Create(path, 70, 90, 1, gdal.GDT_Float32, opts)
        ds.GetRasterBand(1).WriteArray(data)
        ds = None
        for win, tile in every_tile(read_tiles(path, 40, 30), data.shape, 40, 30):
            np.testing.assert_array_equal(tile, data[win.slices])


def test_read_window(dem3):
    path, data = dem3
    win = TileWindow(10, 20, 30, 40)
    np.testing.assert_array_equal(read_window(path, win), data[(slice(None),) + win.slices])
    np.testing.assert_array_equal(read_window(path, (10, 20, 30, 40), bands=2), data[1][win.slices])
    np.testing.assert_array_equal(read_window(path, win, bands=[3]), data[2][win.slices])


@pytest.mark.parametrize("window", [(-1, 0, 5, 5), (0, 0, 0, 5), (300, 0, 5, 5), (0, 250, 5, 10)])
def test_read_window_outside(dem3, window):
    path, _ = dem3
    with pytest.raises(ValueError, match="not inside"):
        read_window(path, window)


def test_read_errors(dem3, tmp_path):
    path, _ = dem3
    with pytest.raises(ValueError, match="bands"):
        read_window(path, (0, 0, 5, 5), bands=[4])
    with pytest.raises(ValueError, match="bands"):
        list(read_tiles(path, 64, 64, bands=[0]))
    with pytest.raises(ValueError, match="tile_rows and tile_cols must be positive"):
        read_tiles(path, 0, 64)
    with pytest.raises(ValueError, match="prefetch"):
        read_tiles(path, 64, 64, prefetch=0)
    with pytest.raises(FileNotFoundError):
        read_tiles(str(tmp_path / "missing.tif"))
    text = tmp_path / "text.tif"
    text.write_text("not a raster")
    with pytest.raises(cloudio.CloudIOError) as info:
        read_window(str(text), (0, 0, 1, 1))
    assert not isinstance(info.value, FileNotFoundError)


@pytest.mark.parametrize("tile", [(128, 128), (100, 75), (699, 529), (1, 530), (700, 1)])
def test_map_tiles_slope_bit_identical(dem, tmp_path, tile):
    path, data = dem
    out = map_tiles(path, slope, str(tmp_path / "slope.tif"), tile_rows=tile[0], tile_cols=tile[1], halo=1)
    ds = gdal.Open(out)
    np.testing.assert_array_equal(ds.ReadAsArray(), whole_slope(data))
    assert ds.GetGeoTransform() == gdal.Open(path).GetGeoTransform()
    srs = osr.SpatialReference(wkt=ds.GetProjection())
    assert srs.IsSame(osr.SpatialReference(wkt=gdal.Open(path).GetProjection()))
    assert ds.GetRasterBand(1).GetNoDataValue() == -9999.0


def test_map_tiles_multiband_and_padded_return(dem3, tmp_path):
    path, data = dem3
    out = map_tiles(path, slope, str(tmp_path / "slope3.tif"), tile_rows=64, tile_cols=100, halo=1, workers=3)
    np.testing.assert_array_equal(gdal.Open(out).ReadAsArray(), whole_slope(data))
    # func returning the padded shape is cropped
    out = map_tiles(path, lambda t: t * 2, str(tmp_path / "double.tif"), tile_rows=64, tile_cols=64, halo=2)
    np.testing.assert_array_equal(gdal.Open(out).ReadAsArray(), data * 2)


def test_map_tiles_edge_nodata(tmp_path):
    data = terrain(50, 40)
    path = make_raster(tmp_path / "e.tif", data, nodata=-5.0)
    seen = []

    def grab(t):
        seen.append(t)
        return t[1:-1, 1:-1]
    map_tiles(path, grab, str(tmp_path / "o.tif"), tile_rows=50, tile_cols=40, halo=1, edge="nodata", workers=1)
    (tile,) = seen
    assert (tile[0] == -5).all() and (tile[:, 0] == -5).all() and (tile[-1] == -5).all()
    np.testing.assert_array_equal(tile[1:-1, 1:-1], data)
    with pytest.raises(ValueError, match="edge"):
        map_tiles(path, grab, str(tmp_path / "o2.tif"), edge="wrap")


def test_map_tiles_dtype_and_nodata(dem, tmp_path):
    path, data = dem
    out = map_tiles(path, lambda t: (t > 1000).astype(np.uint8), str(tmp_path / "mask.tif"), tile_rows=200,
                    tile_cols=200, nodata=255)
    ds = gdal.Open(out)
    assert ds.GetRasterBand(1).DataType == gdal.GDT_Byte and ds.GetRasterBand(1).GetNoDataValue() == 255
    np.testing.assert_array_equal(ds.ReadAsArray(), (data > 1000).astype(np.uint8))
    out = map_tiles(path, lambda t: t, str(tmp_path / "f64.tif"), dtype="float64")
    ds = gdal.Open(out)  # kept: a band must not outlive its dataset
    assert ds.GetRasterBand(1).DataType == gdal.GDT_Float64


def test_map_tiles_keeps_the_source_nodata_through_a_change_of_type(tmp_path):
    """No nodata= given: the output keeps the source's nodata in its new type (the nodata
    cells stay nodata), and a type that cannot hold it is refused, not written without one."""
    data = terrain(300, 200)
    data[:20, :30] = -9999.0
    path = make_raster(tmp_path / "holes.tif", data, nodata=-9999.0)
    for dtype, func in (("float64", lambda t: t), (None, lambda t: np.round(t).astype(np.int16))):
        out = map_tiles(path, func, str(tmp_path / f"{dtype}.tif"), tile_rows=128, tile_cols=128, dtype=dtype)
        ds = gdal.Open(out)  # kept: a band must not outlive its dataset
        band = ds.GetRasterBand(1)
        assert band.GetNoDataValue() == -9999.0, (dtype, band.GetNoDataValue())
        assert (band.GetMaskBand().ReadAsArray() == 0).sum() == 20 * 30
        np.testing.assert_array_equal(band.ReadAsArray(), func(data))
    with pytest.raises(ValueError, match="nodata"):
        map_tiles(path, lambda t: (t > 1000).astype(np.uint8), str(tmp_path / "u8.tif"))
    assert not os.path.exists(tmp_path / "u8.tif")


def listing(directory):
    return sorted(os.listdir(directory))


@pytest.mark.parametrize("func,error,match", [
    (lambda t: t[:3, :3], ValueError, r"window \(0, 0, 200, 200\)"),
    (lambda t: "nope", TypeError, "numpy array"),
    (lambda t: t.astype(np.complex64), TypeError, "cannot be stored"),
])
def test_map_tiles_bad_func_results(dem, tmp_path, func, error, match):
    path, _ = dem
    dst = tmp_path / "bad.tif"
    before = listing(tmp_path)
    with pytest.raises(error, match=match):
        map_tiles(path, func, str(dst), tile_rows=200, tile_cols=200, dtype="float32")
    assert listing(tmp_path) == before


def test_map_tiles_func_raises_propagates(dem, tmp_path):
    path, data = dem
    calls = []

    def boom(t):
        calls.append(1)
        if len(calls) == 5:
            raise KeyError("boom")
        return t
    dst = tmp_path / "raise.tif"
    dst.write_bytes(b"existing")
    with pytest.raises(KeyError, match="boom") as info:
        map_tiles(path, boom, str(dst), tile_rows=100, tile_cols=100, workers=1)  # one worker: calls in order
    fifth = list(reference_windows(*data.shape, 100, 100))[4]
    assert info.value.__notes__ == [f"cloudio.map_tiles: raised by func on window {fifth}"]
    assert dst.read_bytes() == b"existing"
    assert listing(tmp_path) == ["raise.tif"]


def test_map_tiles_progress_and_cancel(dem, tmp_path):
    path, _ = dem
    fractions = []
    map_tiles(path, lambda t: t, str(tmp_path / "p.tif"), tile_rows=128, tile_cols=128, progress=fractions.append)
    assert fractions and fractions[-1] == pytest.approx(1.0)
    assert all(b >= a - 1e-9 for a, b in zip(fractions, fractions[1:]))
    with pytest.raises(cloudio.CancelledError):
        map_tiles(path, lambda t: t, str(tmp_path / "c.tif"), progress=lambda f: f < 0.9)
    assert not (tmp_path / "c.tif").exists()


def test_map_tiles_bad_arguments(dem, tmp_path):
    path, _ = dem
    dst = str(tmp_path / "x.tif")
    for kwargs, match in (({"halo": -1}, "halo"), ({"workers": 0}, "workers"), ({"compress": "nope"}, "compress"),
                          ({"dtype": "complex64"}, "dtype"), ({"tile_rows": 0}, "tile_rows")):
        with pytest.raises(ValueError, match=match):
            map_tiles(path, lambda t: t, dst, **kwargs)
    with pytest.raises(ValueError, match="callable"):
        map_tiles(path, None, dst)
    with pytest.raises(FileNotFoundError):
        map_tiles(str(tmp_path / "missing.tif"), lambda t: t, dst)
    with pytest.raises(FileNotFoundError):
        map_tiles(path, lambda t: t, str(tmp_path / "no" / "dir.tif"))
    assert listing(tmp_path) == []


def test_map_tiles_in_memory_source(tmp_path):
    mem = gdal.GetDriverByName("MEM").Create("", 60, 50, 1, gdal.GDT_Float32)
    data = terrain(50, 60)
    mem.GetRasterBand(1).WriteArray(data)
    mem.SetGeoTransform((0, 1, 0, 0, 0, -1))
    out = map_tiles(mem, slope, str(tmp_path / "m.tif"), tile_rows=16, tile_cols=16, halo=1)
    np.testing.assert_array_equal(gdal.Open(out).ReadAsArray(), whole_slope(data))


def run_script(code, timeout=120, **env):
    full_env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"), **env)
    return subprocess.run([PYTHON, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=timeout,
                          env=full_env)


def test_map_tiles_keyboard_interrupt_leaves_nothing(dem, tmp_path):
    path, _ = dem
    dst = tmp_path / "ki.tif"
    proc = subprocess.Popen([PYTHON, "-c", textwrap.dedent(f"""
        import sys, time, numpy as np, cloudio
        def slow(t):
            sys.stdout.write("tile\\n"); sys.stdout.flush(); time.sleep(0.2); return t
        try:
            cloudio.map_tiles({path!r}, slow, {str(dst)!r}, tile_rows=64, tile_cols=64, workers=2)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            sys.exit(3)
    """)], stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python")))
    assert proc.stdout.readline().strip() == "tile"
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 3 and "interrupted" in out
    assert listing(tmp_path) == []


def test_truncated_source_mid_stream(tmp_path):
    data = terrain(1024, 1024)
    path = make_raster(tmp_path / "t.tif", data, options={"BLOCKSIZE": 256})
    result = run_script(f"""
        import os, cloudio
        it = cloudio.read_tiles({path!r}, 256, 256, prefetch=1)
        next(it)
        os.truncate({path!r}, os.path.getsize({path!r}) // 3)
        try:
            for _ in it:
                pass
        except cloudio.ReadWriteError as e:
            print("IOERROR", e)
    """)
    assert "IOERROR" in result.stdout, result.stdout + result.stderr


def test_stream_slope_c_example_matches_python(dem, tmp_path):
    path, data = dem
    exe = os.path.join(ROOT, "build", "stream_slope")
    out = str(tmp_path / "c_slope.tif")
    subprocess.run([exe, path, out, "200"], check=True, capture_output=True, timeout=120)
    py = map_tiles(path, slope, str(tmp_path / "py_slope.tif"), tile_rows=333, tile_cols=256, halo=1)
    c_result = gdal.Open(out).ReadAsArray()
    np.testing.assert_allclose(c_result, gdal.Open(py).ReadAsArray(), rtol=0, atol=1e-4)
    np.testing.assert_allclose(c_result, whole_slope(data), rtol=0, atol=1e-4)
    assert subprocess.run([PYTHON, "-m", "osgeo_utils.samples.validate_cloud_optimized_geotiff", out]).returncode == 0
