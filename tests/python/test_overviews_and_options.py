"""Overviews suit the data (compared with GDAL's own gdaladdo on the same
data), and every writer takes the same options with the same checks."""
import os
import shutil
import subprocess

import numpy as np
import pytest
from osgeo import gdal

import cloudio
from cloudio import dask_backend, map_tiles, to_cog, write_cog, write_zarr
from conftest import GT, run_python, validate_cog

gdal.UseExceptions()
D8 = np.array([1, 2, 4, 8, 16, 32, 64, 128], np.uint8)


def d8_codes(rows=1500, cols=1300, seed=1):
    """A D8 flow-direction raster: 8 codes, nothing in between."""
    return D8[np.random.default_rng(seed).integers(0, 8, (rows, cols))]


def float_dem(rows=1500, cols=1300, seed=2):
    """A rough float DEM with a 10 x 10 NaN hole."""
    rng = np.random.default_rng(seed)
    dem = (900 + np.cumsum(rng.normal(0, 3, (rows, cols)), axis=1)).astype(np.float32)
    dem[200:210, 300:310] = np.nan
    return dem


def tiled_source(path, data):
    """data as a tiled GeoTIFF written by GDAL itself."""
    ds = gdal.GetDriverByName("GTiff").Create(str(path), data.shape[1], data.shape[0], 1,
                                              gdal.GDT_Byte if data.dtype == np.uint8 else gdal.GDT_Float32,
                                              ["TILED=YES"])
    ds.SetGeoTransform(GT)
    ds.GetRasterBand(1).WriteArray(data)
    ds = None
    return str(path)


def overviews(path):
    ds = gdal.Open(str(path))
    band = ds.GetRasterBand(1)
    return [band.GetOverview(i).ReadAsArray() for i in range(band.GetOverviewCount())]


def gdaladdo(src, method, levels, tmp_path):
    """The overviews GDAL's own gdaladdo computes with method on a copy of src."""
    ref = tmp_path / f"ref-{method}.tif"
    shutil.copy(src, ref)
    subprocess.run(["gdaladdo", "-q", "-r", method, str(ref)] + [str(2 ** (i + 1)) for i in range(levels)],
                   check=True)
    return overviews(ref)


def every_writer(src, data, tmp_path, **kwargs):
    """The COG of the same raster from write_cog (a path and an array),
    map_tiles and to_cog."""
    return {
        "write_cog path": write_cog(src, str(tmp_path / "w.tif"), **kwargs),
        "write_cog array": write_cog(data, str(tmp_path / "a.tif"), geotransform=GT, **kwargs),
        "map_tiles": map_tiles(src, lambda t: t, str(tmp_path / "m.tif"), tile_rows=512, tile_cols=384, **kwargs),
        "to_cog": to_cog(dask_backend(src, 256, 256), str(tmp_path / "d.tif"), **kwargs),
    }


@pytest.mark.parametrize("data,method", [(d8_codes(), "nearest"), (float_dem(), "average")],
                         ids=["categorical-nearest", "continuous-average"])
def test_default_overviews_are_gdaladdos(tmp_path, data, method):
    src = tiled_source(tmp_path / "src.tif", data)
    for writer, out in every_writer(src, data, tmp_path).items():
        validate_cog(out)
        got = overviews(out)
        assert len(got) == 2, writer
        want = gdaladdo(src, method, len(got), tmp_path)
        for level, (a, b) in enumerate(zip(got, want)):
            np.testing.assert_array_equal(a, b, err_msg=f"{writer}, overview {level}")
        assert gdal.Open(out).GetMetadataItem("OVERVIEW_RESAMPLING") == method.upper(), writer
    first = got[0]
    if data.dtype == np.uint8:  # codes stay codes
        assert set(np.unique(first)) <= set(D8)
    else:  # no overshoot, and the hole does not grow
        valid = first[~np.isnan(first)]
        assert np.nanmin(data) <= valid.min() and valid.max() <= np.nanmax(data)
        assert np.isnan(first).sum() == 25


def test_overview_resampling_keyword_everywhere(tmp_path):
    data = d8_codes(700, 600)
    src = tiled_source(tmp_path / "src.tif", data)
    for writer, out in every_writer(src, data, tmp_path, overview_resampling="mode").items():
        assert gdal.Open(out).GetMetadataItem("OVERVIEW_RESAMPLING") == "MODE", writer
        np.testing.assert_array_equal(overviews(out)[0], gdaladdo(src, "mode", 1, tmp_path)[0], err_msg=writer)


def test_unknown_overview_method_is_refused_before_anything_is_written(tmp_path):
    data = float_dem(300, 300)
    src = tiled_source(tmp_path / "src.tif", data)
    calls = {
        "write_cog": lambda: write_cog(src, str(tmp_path / "o.tif"), overview_resampling="bogus"),
        "write_cog options": lambda: write_cog(data, str(tmp_path / "o.tif"), options={"OVERVIEW_RESAMPLING": "x"}),
        "map_tiles": lambda: map_tiles(src, lambda t: t, str(tmp_path / "o.tif"), overview_resampling="bogus"),
        "to_cog": lambda: to_cog(dask_backend(src), str(tmp_path / "o.tif"), overview_resampling="bogus"),
    }
    for name, call in calls.items():
        with pytest.raises(cloudio.InvalidArgumentError, match="OVERVIEW_RESAMPLING.*NEAREST, AVERAGE") as info:
            call()
        for method in ("RMS", "MODE", "CUBIC", "LANCZOS"):
            assert method in str(info.value), name
        assert sorted(os.listdir(tmp_path)) == ["src.tif"], name
    with pytest.raises(cloudio.InvalidArgumentError, match="no overviews"):
        write_zarr(src, str(tmp_path / "o.zarr"), overview_resampling="average")
    with pytest.raises(ValueError, match="give one"):
        write_cog(src, str(tmp_path / "o.tif"), overview_resampling="mode", options=["overview_resampling=mode"])
    with pytest.raises(ValueError, match="overview_resampling"):
        write_cog(src, str(tmp_path / "o.tif"), overview_resampling=3)
    assert sorted(os.listdir(tmp_path)) == ["src.tif"]


@pytest.mark.parametrize("value", [0, -256, 2 ** 31, 100, 200])
def test_bad_blocksize_is_a_clean_error_in_every_writer(tmp_path, value):
    # BLOCKSIZE=2^31 used to abort the process after 30 s: the probe runs in a child.
    result = run_python(f"""
        import os, sys
        import numpy as np
        import cloudio
        from cloudio import dask_backend, map_tiles, to_cog, write_cog, write_zarr
        d = sys.argv[1]
        src = write_cog(np.zeros((300, 300), np.float32), os.path.join(d, "src.tif"))
        calls = [
            lambda: write_cog(src, os.path.join(d, "a.tif"), blocksize={value}),
            lambda: write_cog(np.zeros((9, 9), np.uint8), os.path.join(d, "a.tif"), options={{"BLOCKSIZE": {value}}}),
            lambda: map_tiles(src, lambda t: t, os.path.join(d, "a.tif"), blocksize={value}),
            lambda: map_tiles(src, lambda t: t, os.path.join(d, "a.tif"), options=["BLOCKSIZE={value}"]),
            lambda: to_cog(dask_backend(src), os.path.join(d, "a.tif"), blocksize={value}),
        ]
        for call in calls:
            try:
                call()
            except cloudio.InvalidArgumentError as exc:
                assert "BLOCKSIZE" in str(exc), exc
            else:
                raise SystemExit("accepted")
        print(sorted(os.listdir(d)))
    """, args=[str(tmp_path)], timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['src.tif']"


def test_every_writer_takes_the_same_keywords(tmp_path, capsys):
    data = float_dem(600, 520)
    src = tiled_source(tmp_path / "src.tif", data)
    common = dict(compress="zstd", options={"LEVEL": 3}, overview_resampling="rms", blocksize=256, progress=True)
    outs = every_writer(src, data, tmp_path, **common)
    assert "100" in capsys.readouterr().err  # the progress bars
    for writer, out in outs.items():
        ds = gdal.Open(out)
        assert ds.GetRasterBand(1).GetBlockSize() == [256, 256], writer
        assert ds.GetMetadataItem("COMPRESSION", "IMAGE_STRUCTURE") == "ZSTD", writer
        assert ds.GetMetadataItem("OVERVIEW_RESAMPLING") == "RMS", writer
    zarr_common = dict(common, compress="zlib", options={"ZLIB_LEVEL": 3}, overview_resampling=None)
    store = write_zarr(src, str(tmp_path / "z.zarr"), **zarr_common)
    assert "100" in capsys.readouterr().err
    assert gdal.Open(store).GetRasterBand(1).GetBlockSize() == [256, 256]
    seen = []
    write_cog(src, str(tmp_path / "cb.tif"), progress=seen.append, blocksize=128)
    assert seen[-1] == 1.0
    with pytest.raises(ValueError, match="progress"):
        write_zarr(src, str(tmp_path / "z2.zarr"), progress="yes")


@pytest.mark.parametrize("options,match", [
    ({"NUM_THREADS": 0}, "NUM_THREADS"), ({"SPARSE_OK": "perhaps"}, "YES or NO"), ({"LEVEL": "max"}, "integer"),
    ({"OVERVIEW_COUNT": -1}, ">= 0"), ({"QUALITY": 500}, "1 to 100"), ({"BLOCKSIZE": "256.0"}, "integer"),
])
def test_option_values_are_checked_against_the_driver(tmp_path, options, match):
    for call in (lambda: write_cog(np.zeros((9, 9), np.float32), str(tmp_path / "a.tif"), options=options),
                 lambda: to_cog(dask_backend(write_cog(np.zeros((9, 9), np.float32), str(tmp_path / "s.tif"))),
                                str(tmp_path / "a.tif"), options=options)):
        with pytest.raises(cloudio.InvalidArgumentError, match=match):
            call()
        assert "a.tif" not in os.listdir(tmp_path)
    with pytest.raises(cloudio.InvalidArgumentError, match="ZSTD_LEVEL"):
        write_zarr(np.zeros((9, 9), np.float32), str(tmp_path / "z.zarr"), options={"ZSTD_LEVEL": 99})


@pytest.mark.servers
def test_store_methods_take_the_same_options_and_refuse_their_source(tmp_path_factory, tmp_path, capsys):
    from test_storage import start_minio
    server = start_minio(tmp_path_factory, "option-dems")
    try:
        store = cloudio.cloud_storage("s3://option-dems", mode="w", **server.options())
        src = tiled_source(tmp_path / "src.tif", d8_codes(600, 500))
        url = store.write_cog(src, "d8.tif", compress="zstd", overview_resampling="mode", blocksize=256, progress=True)
        assert "100" in capsys.readouterr().err
        store.write_zarr(src, "d8.zarr", blocksize=128, progress=True)
        assert "100" in capsys.readouterr().err
        with pytest.raises(cloudio.InvalidArgumentError, match="BLOCKSIZE"):
            store.write_cog(src, "bad.tif", blocksize=0)
        with pytest.raises(cloudio.InvalidArgumentError, match="OVERVIEW_RESAMPLING"):
            store.write_cog(src, "bad.tif", overview_resampling="bogus")
        # the same key, however it is spelt, is the source
        for dst in (url, "s3://option-dems/./d8.tif", "s3://option-dems/x/../d8.tif"):
            with pytest.raises(cloudio.InvalidArgumentError, match="is the source"):
                map_tiles(url, lambda t: t, dst)
            with pytest.raises(cloudio.InvalidArgumentError, match="is the source"):
                to_cog(dask_backend(url), dst)
        assert sorted(k for k in store.list() if not k.startswith("d8.zarr/")) == ["d8.tif"]
        info = cloudio._datasets.open_dataset(url).info
        assert (info.block_rows, info.block_cols) == (256, 256)
    finally:
        server.stop()
