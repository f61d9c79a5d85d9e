"""write_cog: valid COGs that round-trip exactly, every compression method,
atomic writes, and a clear error for every bad input."""
import os
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
import types

import numpy as np
import pytest
from osgeo import gdal, osr

import cloudio
from cloudio import write_cog

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GT = (500000.0, 30.0, 0.0, 4500000.0, 0.0, -30.0)
DTYPES = {np.uint8: gdal.GDT_Byte, np.int16: gdal.GDT_Int16, np.float32: gdal.GDT_Float32, np.float64: gdal.GDT_Float64}


def validate(path):
    result = subprocess.run([sys.executable, "-m", "osgeo_utils.samples.validate_cloud_optimized_geotiff", path],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def sample(dtype, shape, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:shape[-2], 0:shape[-1]]
    base = 100 + 50 * np.sin(x / 17.0) * np.cos(y / 11.0)
    bands = [base + rng.normal(0, 3, base.shape) + 10 * b for b in range(shape[0] if len(shape) == 3 else 1)]
    data = np.stack(bands) if len(shape) == 3 else bands[0]
    return np.clip(data, 0, 250).astype(dtype) if dtype == np.uint8 else data.astype(dtype)


def source_tif(path, data, nodata=None, epsg=32633):
    bands = data if data.ndim == 3 else data[np.newaxis]
    ds = gdal.GetDriverByName("GTiff").Create(str(path), bands.shape[2], bands.shape[1], bands.shape[0],
                                              DTYPES[data.dtype.type])
    ds.SetGeoTransform(GT)
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    ds.SetProjection(srs.ExportToWkt())
    for i, band in enumerate(bands, 1):
        ds.GetRasterBand(i).WriteArray(band)
        if nodata is not None:
            ds.GetRasterBand(i).SetNoDataValue(nodata)
    ds = None
    return str(path)


def check_round_trip(path, data, nodata, epsg=32633):
    validate(path)
    ds = gdal.Open(path)
    expected = data if data.ndim == 3 else data[np.newaxis]
    assert ds.RasterCount == expected.shape[0]
    assert ds.GetRasterBand(1).DataType == DTYPES[data.dtype.type]
    np.testing.assert_array_equal(ds.ReadAsArray().reshape(expected.shape), expected)
    assert ds.GetGeoTransform() == GT
    want = osr.SpatialReference()
    want.ImportFromEPSG(epsg)
    assert osr.SpatialReference(wkt=ds.GetProjection()).IsSame(want)
    for i in range(1, ds.RasterCount + 1):
        assert ds.GetRasterBand(i).GetNoDataValue() == nodata


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("bands", [1, 3])
def test_round_trip_from_path(tmp_path, dtype, bands):
    data = sample(dtype, (bands, 300, 200) if bands > 1 else (300, 200))
    src = source_tif(tmp_path / "src.tif", data, nodata=7)
    out = write_cog(src, str(tmp_path / "out.tif"))
    assert out == str(tmp_path / "out.tif")
    check_round_trip(out, data, 7)


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("bands", [1, 3])
def test_round_trip_from_numpy(tmp_path, dtype, bands):
    data = sample(dtype, (bands, 260, 310) if bands > 1 else (260, 310))
    for crs in (32633, "EPSG:32633", osr.SpatialReference(wkt=gdal.Open(source_tif(tmp_path / "s.tif", data)).GetProjection()).ExportToWkt()):
        out = write_cog(data, tmp_path / "np.tif", geotransform=GT, crs=crs, nodata=3)
        check_round_trip(out, data, 3)


def test_round_trip_from_gdal_datasets_and_pyramids(tmp_path):
    data = sample(np.float32, (2, 120, 90))
    src = source_tif(tmp_path / "src.tif", data, nodata=-1)
    check_round_trip(write_cog(gdal.Open(src), str(tmp_path / "a.tif")), data, -1)  # passed by name
    mem = gdal.Translate("", src, format="MEM")                                      # lives only in memory
    check_round_trip(write_cog(mem, str(tmp_path / "b.tif")), data, -1)
    gdal.Translate("/vsimem/c.tif", src)
    check_round_trip(write_cog(gdal.Open("/vsimem/c.tif"), str(tmp_path / "c.tif")), data, -1)
    gdal.Unlink("/vsimem/c.tif")
    pyramids = types.SimpleNamespace(raster=mem, rows=120, columns=90)              # a pyramids Dataset's shape
    check_round_trip(write_cog(pyramids, str(tmp_path / "d.tif")), data, -1)


def test_non_contiguous_and_big_endian_arrays(tmp_path):
    data = sample(np.float32, (200, 300))
    out = write_cog(data[:, ::2], str(tmp_path / "strided.tif"), geotransform=GT, crs=32633)
    np.testing.assert_array_equal(gdal.Open(out).ReadAsArray(), data[:, ::2])
    out = write_cog(data.astype(">f4"), str(tmp_path / "be.tif"), geotransform=GT, crs=32633)
    np.testing.assert_array_equal(gdal.Open(out).ReadAsArray(), data)


def test_overviews_when_larger_than_a_block(tmp_path):
    out = write_cog(sample(np.float32, (1500, 1300)), str(tmp_path / "big.tif"), geotransform=GT, crs=32633)
    ds = gdal.Open(out)
    assert ds.GetRasterBand(1).GetOverviewCount() >= 1
    assert ds.GetRasterBand(1).GetBlockSize() == [512, 512]
    small = write_cog(sample(np.float32, (100, 100)), str(tmp_path / "small.tif"))
    assert gdal.Open(small).GetRasterBand(1).GetOverviewCount() == 0


def declared_methods():
    import xml.etree.ElementTree as ET
    options = ET.fromstring(gdal.GetDriverByName("COG").GetMetadataItem("DMD_CREATIONOPTIONLIST"))
    (compress,) = [o for o in options if o.get("name") == "COMPRESS"]
    return [v.text for v in compress]


LOSSY = {"JPEG", "WEBP"}


@pytest.mark.parametrize("method", declared_methods())
def test_every_declared_compression(tmp_path, method):
    dtype = np.uint8 if method in LOSSY else np.float32
    data = sample(dtype, (3, 64, 80) if method in LOSSY else (64, 80))
    out = write_cog(data, str(tmp_path / "m.tif"), compress=method.lower(), geotransform=GT, crs=32633)
    validate(out)
    ds = gdal.Open(out)
    reported = ds.GetMetadata("IMAGE_STRUCTURE").get("COMPRESSION", "NONE")
    # GDAL reports 3-band JPEG as "YCbCr JPEG" and LERC_DEFLATE as "LERC_DEFLATE"
    assert reported.upper().split()[-1] == method
    if method not in LOSSY:
        np.testing.assert_array_equal(ds.ReadAsArray(), data)


def test_compress_case_insensitive_and_predictor_defaults(tmp_path):
    ints, floats = sample(np.int16, (100, 100)), sample(np.float32, (100, 100))
    for compress in ("deflate", "DEFLATE", "Zstd", "lzw"):
        ds = gdal.Open(write_cog(ints, str(tmp_path / "i.tif"), compress=compress))
        assert ds.GetMetadata("IMAGE_STRUCTURE")["PREDICTOR"] == "2"
        ds = gdal.Open(write_cog(floats, str(tmp_path / "f.tif"), compress=compress))
        assert ds.GetMetadata("IMAGE_STRUCTURE")["PREDICTOR"] == "3"
    ds = gdal.Open(write_cog(floats, str(tmp_path / "l.tif"), compress="lerc"))
    assert "PREDICTOR" not in ds.GetMetadata("IMAGE_STRUCTURE")


def test_options_override_defaults(tmp_path):
    data = sample(np.float32, (600, 600))
    ds = gdal.Open(write_cog(data, str(tmp_path / "o.tif"), options={"PREDICTOR": "NO", "BLOCKSIZE": 256}))
    assert "PREDICTOR" not in ds.GetMetadata("IMAGE_STRUCTURE")
    assert ds.GetRasterBand(1).GetBlockSize() == [256, 256]
    ds = gdal.Open(write_cog(data, str(tmp_path / "p.tif"), options=["COMPRESS=ZSTD"]))
    assert ds.GetMetadata("IMAGE_STRUCTURE")["COMPRESSION"] == "ZSTD"


def test_progress_reports_and_cancels(tmp_path):
    data = sample(np.float32, (1200, 1200))
    fractions = []
    write_cog(data, str(tmp_path / "p.tif"), progress=fractions.append)
    assert fractions[-1] == 1.0 and fractions == sorted(fractions)
    with pytest.raises(cloudio.CancelledError):
        write_cog(data, str(tmp_path / "c.tif"), progress=lambda f: f < 0.3)
    assert os.listdir(tmp_path) == ["p.tif"]


def test_exception_in_progress_propagates_and_leaves_nothing(tmp_path):
    def boom(fraction):
        if fraction > 0.2:
            raise ZeroDivisionError("from progress")
    with pytest.raises(ZeroDivisionError, match="from progress"):
        write_cog(sample(np.float32, (1200, 1200)), str(tmp_path / "x.tif"), progress=boom)

    def interrupt(fraction):
        if fraction > 0.2:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        write_cog(sample(np.float32, (1200, 1200)), str(tmp_path / "y.tif"), progress=interrupt)
    assert os.listdir(tmp_path) == []


def test_failed_overwrite_keeps_existing_destination(tmp_path):
    dst = tmp_path / "keep.tif"
    write_cog(sample(np.float32, (50, 50)), str(dst))
    before = dst.read_bytes()
    text = tmp_path / "text.tif"
    text.write_text("hello")
    with pytest.raises(cloudio.CloudIOError):
        write_cog(str(text), str(dst))
    with pytest.raises(ValueError):
        write_cog(sample(np.float32, (50, 50)), str(dst), compress="nope")
    with pytest.raises(cloudio.CancelledError):
        write_cog(sample(np.float32, (800, 800)), str(dst), progress=lambda f: False)
    assert dst.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["keep.tif", "text.tif"]


def test_killed_write_leaves_nothing(tmp_path):
    dst = tmp_path / "killed.tif"
    script = textwrap.dedent(f"""
        import sys, numpy as np, cloudio
        data = np.random.default_rng(0).random((6000, 6000), dtype=np.float32)
        def progress(f):
            if f > 0.05:
                sys.stdout.write("started\\n"); sys.stdout.flush()
        cloudio.write_cog(data, {str(dst)!r}, progress=progress)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python")))
    assert proc.stdout.readline().strip() == "started"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert not dst.exists()
    # only the hidden temporary file may remain after a SIGKILL, never the destination
    assert all(name.startswith(".killed.tif.") for name in os.listdir(tmp_path))


@pytest.mark.parametrize("bad,error,match", [
    (lambda t: write_cog(sample(np.float32, (9, 9)), t / "a.tif", compress="nope"), ValueError, "compress"),
    (lambda t: write_cog(sample(np.float32, (9, 9)), t / "a.tif", compress=None), ValueError, "compress"),
    (lambda t: write_cog(str(t / "missing.tif"), t / "a.tif"), FileNotFoundError, "missing.tif"),
    (lambda t: write_cog(sample(np.float32, (9, 9)), t / "no" / "dir.tif"), FileNotFoundError, "does not exist"),
    (lambda t: write_cog(np.zeros((9, 9), np.bool_), t / "a.tif"), ValueError, "dtype"),
    (lambda t: write_cog(np.zeros((9, 9), np.complex64), t / "a.tif"), ValueError, "dtype"),
    (lambda t: write_cog(np.zeros((9, 9), np.float16), t / "a.tif"), ValueError, "dtype"),
    (lambda t: write_cog(np.zeros((9, 9), np.int8), t / "a.tif"), ValueError, "dtype"),
    (lambda t: write_cog(np.zeros(9, np.float32), t / "a.tif"), ValueError, "2-D"),
    (lambda t: write_cog(np.zeros((2, 2, 9, 9), np.float32), t / "a.tif"), ValueError, "2-D"),
    (lambda t: write_cog(np.zeros((0, 9), np.float32), t / "a.tif"), ValueError, "empty"),
    (lambda t: write_cog(np.zeros((9, 9), np.float32), t / "a.tif", geotransform=(1, 2, 3)), ValueError, "geotransform"),
    (lambda t: write_cog(np.zeros((9, 9), np.float32), t / "a.tif", crs="NOT_A_CRS"), ValueError, "crs"),
    (lambda t: write_cog(np.zeros((9, 9), np.float32), t / "a.tif", options="BLOCKSIZE=256"), ValueError, "options"),
    (lambda t: write_cog(np.zeros((9, 9), np.float32), t / "a.tif", options={"NOPE": 1}), ValueError, "NOPE"),
    (lambda t: write_cog(np.zeros((9, 9), np.float32), t / "a.tif", options={"BLOCKSIZE": "big"}), ValueError, "BLOCKSIZE"),
    (lambda t: write_cog(np.zeros((9, 9), np.float32), os.fsdecode(bytes(t) + b"/\xff.tif")), ValueError, "UTF-8"),
    (lambda t: write_cog(object(), t / "a.tif"), ValueError, "dataset"),
    (lambda t: write_cog(np.zeros((9, 9), np.float32), 42), ValueError, "path"),
])
def test_bad_inputs(tmp_path, bad, error, match):
    with pytest.raises(error, match=match):
        bad(tmp_path)
    assert os.listdir(tmp_path) == []


def test_text_file_named_tif_is_not_not_found(tmp_path):
    text = tmp_path / "text.tif"
    text.write_text("not a raster")
    with pytest.raises(cloudio.ReadWriteError, match="not recognized") as info:
        write_cog(str(text), str(tmp_path / "out.tif"))
    assert not isinstance(info.value, FileNotFoundError)
    assert os.listdir(tmp_path) == ["text.tif"]


def test_destination_equal_to_source(tmp_path):
    src = source_tif(tmp_path / "src.tif", sample(np.float32, (20, 20)))
    before = open(src, "rb").read()
    with pytest.raises(ValueError, match="is the source"):
        write_cog(src, src)
    assert open(src, "rb").read() == before


def test_read_only_output_directory(tmp_path):
    if os.geteuid() == 0:
        directory = "/sys"  # root ignores permission bits; sysfs refuses new files even to root
    else:
        directory = str(tmp_path / "ro")
        os.mkdir(directory)
        os.chmod(directory, stat.S_IRUSR | stat.S_IXUSR)
    with pytest.raises(cloudio.ReadWriteError, match="Permission denied"):
        write_cog(sample(np.float32, (20, 20)), os.path.join(directory, "cloudio-test.tif"))
    assert not os.path.exists(os.path.join(directory, "cloudio-test.tif"))


def test_threads_write_at_once(tmp_path):
    errors = []

    def work(i):
        try:
            out = write_cog(sample(np.float32, (300, 300), seed=i), str(tmp_path / f"t{i}.tif"))
            np.testing.assert_array_equal(gdal.Open(out).ReadAsArray(), sample(np.float32, (300, 300), seed=i))
        except Exception as exc:  # reported below
            errors.append(exc)
    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(os.listdir(tmp_path)) == 8
