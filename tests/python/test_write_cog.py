"""write_cog: valid COGs that round-trip exactly from every kind of source,
every compression method, predictor and option defaults, progress and
cancellation, atomic writes, and a clear error for every bad input."""
import os
import signal
import subprocess
import sys
import textwrap
import types
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from osgeo import gdal, osr

import cloudio
from cloudio import write_cog
from conftest import (EPSG, GT, GDAL_TYPES, PyramidsLikeDataset, gdal_dataset, python_env, sample, source_tif,
                      srs_wkt, validate_cog)

DTYPES = [np.uint8, np.int16, np.float32, np.float64]


def check_round_trip(path, data, nodata, gt=GT, epsg=EPSG, validate=True):
    """path is a valid COG holding data with gt, epsg and nodata on every band."""
    assert isinstance(path, str)
    if validate:
        validate_cog(path)
    ds = gdal.Open(path)
    expected = data if data.ndim == 3 else data[np.newaxis]
    assert ds.RasterCount == expected.shape[0]
    assert (ds.RasterYSize, ds.RasterXSize) == expected.shape[1:]
    for i in range(1, ds.RasterCount + 1):
        band = ds.GetRasterBand(i)
        assert band.DataType == GDAL_TYPES[data.dtype]
        assert nodata_of(band) == nodata
        np.testing.assert_array_equal(band.ReadAsArray(), expected[i - 1])
    assert ds.GetGeoTransform(can_return_null=True) == (tuple(gt) if gt is not None else None)
    if epsg is None:
        assert ds.GetProjection() == ""
    else:
        want = osr.SpatialReference()
        want.ImportFromEPSG(epsg)
        assert osr.SpatialReference(wkt=ds.GetProjection()).IsSame(want)


def nodata_of(band):
    if band.DataType == gdal.GDT_Int64:
        return band.GetNoDataValueAsInt64()
    if band.DataType == gdal.GDT_UInt64:
        return band.GetNoDataValueAsUInt64()
    return band.GetNoDataValue()


def compression(path):
    ds = gdal.Open(path)
    return ds.GetMetadata("IMAGE_STRUCTURE").get("COMPRESSION")


# --- round trips -------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bands", [1, 3])
def test_round_trip_from_a_path(tmp_path, dtype, bands):
    data = sample(dtype, (bands, 300, 200) if bands > 1 else (300, 200))
    src = source_tif(tmp_path / "src.tif", data, nodata=7)
    out = write_cog(src, str(tmp_path / "out.tif"))
    assert out == str(tmp_path / "out.tif")
    check_round_trip(out, data, 7)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bands", [1, 3])
def test_round_trip_from_a_numpy_array(tmp_path, dtype, bands):
    data = sample(dtype, (bands, 260, 310) if bands > 1 else (260, 310))
    out = write_cog(data, tmp_path / "np.tif", geotransform=GT, crs=EPSG, nodata=3)
    assert out == str(tmp_path / "np.tif")  # an os.PathLike in, a str out
    check_round_trip(out, data, 3)


@pytest.mark.parametrize("crs", [EPSG, np.int64(EPSG), f"EPSG:{EPSG}", str(EPSG), srs_wkt(EPSG),
                                 "osr", "+proj=utm +zone=33 +datum=WGS84 +units=m +no_defs"])
def test_crs_forms(tmp_path, crs):
    if crs == "osr":
        crs = osr.SpatialReference(wkt=srs_wkt(EPSG))
    data = sample(np.int16, (40, 50))
    out = write_cog(data, tmp_path / "crs.tif", geotransform=GT, crs=crs)
    check_round_trip(out, data, None, validate=False)


@pytest.mark.parametrize("dtype", [np.uint16, np.uint32, np.int32, np.int64, np.uint64])
def test_round_trip_other_dtypes_from_numpy(tmp_path, dtype):
    data = sample(dtype, (90, 70))
    check_round_trip(write_cog(data, tmp_path / "o.tif", geotransform=GT, crs=EPSG), data, None, validate=False)
    if np.dtype(dtype).itemsize < 8:
        check_round_trip(write_cog(data, tmp_path / "n.tif", geotransform=GT, crs=EPSG, nodata=0), data, 0,
                         validate=False)


@pytest.mark.parametrize("dtype", [np.int64, np.uint64])
def test_64_bit_integer_nodata_from_a_path(tmp_path, dtype):
    data = sample(dtype, (90, 70))
    src = source_tif(tmp_path / "src.tif", data, nodata=7)
    check_round_trip(write_cog(src, tmp_path / "o.tif"), data, 7)


@pytest.mark.parametrize("dtype", [np.int64, np.uint64])
def test_64_bit_integer_nodata_from_numpy(tmp_path, dtype):
    data = sample(dtype, (90, 70))
    check_round_trip(write_cog(data, tmp_path / "o.tif", geotransform=GT, crs=EPSG, nodata=7), data, 7,
                     validate=False)


def test_round_trip_nan_nodata(tmp_path):
    data = sample(np.float32, (50, 60))
    data[3, 4] = np.nan
    ds = gdal.Open(write_cog(data, tmp_path / "nan.tif", geotransform=GT, crs=EPSG, nodata=float("nan")))
    assert np.isnan(ds.GetRasterBand(1).GetNoDataValue())
    np.testing.assert_array_equal(ds.ReadAsArray(), data)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bands", [1, 3])
@pytest.mark.parametrize("kind", ["gdal MEM dataset", "pyramids-like", "gdal dataset on disk"])
def test_round_trip_from_dataset_objects(tmp_path, dtype, bands, kind):
    data = sample(dtype, (bands, 210, 170) if bands > 1 else (210, 170))
    if kind == "gdal dataset on disk":
        ds = gdal.Open(source_tif(tmp_path / "src.tif", data, nodata=2))
    else:
        ds = gdal_dataset(data, nodata=2)
        if kind == "pyramids-like":
            ds = PyramidsLikeDataset(ds)
    check_round_trip(write_cog(ds, str(tmp_path / "out.tif")), data, 2)


def test_round_trip_from_gdal_datasets(tmp_path):
    data = sample(np.float32, (2, 120, 90))
    src = source_tif(tmp_path / "src.tif", data, nodata=-1)
    check_round_trip(write_cog(gdal.Open(src), str(tmp_path / "a.tif")), data, -1)  # on disk: passed by name
    mem = gdal.Translate("", src, format="MEM")                                      # only in memory: pixels
    check_round_trip(write_cog(mem, str(tmp_path / "b.tif")), data, -1)
    check_round_trip(write_cog(gdal_dataset(data, nodata=-1), str(tmp_path / "c.tif")), data, -1)
    gdal.Translate("/vsimem/cloudio-test.tif", src)
    vsimem = gdal.Open("/vsimem/cloudio-test.tif")
    try:
        check_round_trip(write_cog(vsimem, str(tmp_path / "d.tif")), data, -1)
    finally:
        vsimem = None
        gdal.Unlink("/vsimem/cloudio-test.tif")


def test_gdal_dataset_written_but_not_closed(tmp_path):
    """A GTiff still open for writing is flushed before the library reads it by name."""
    data = sample(np.int16, (3, 80, 70))
    ds = gdal_dataset(data, nodata=5, path=tmp_path / "open.tif")  # not flushed, not closed
    check_round_trip(write_cog(ds, str(tmp_path / "out.tif")), data, 5)
    ds = None


def test_in_memory_dataset_without_georeferencing(tmp_path):
    data = sample(np.uint8, (30, 40))
    out = write_cog(gdal_dataset(data, gt=None, epsg=None), str(tmp_path / "bare.tif"))
    check_round_trip(out, data, None, gt=None, epsg=None)


def test_keywords_override_an_in_memory_dataset(tmp_path):
    data = sample(np.float32, (30, 40))
    other_gt = (10.0, 2.0, 0.0, 20.0, 0.0, -2.0)
    out = write_cog(gdal_dataset(data, nodata=1), str(tmp_path / "k.tif"), geotransform=other_gt, crs=4326, nodata=9)
    check_round_trip(out, data, 9, gt=other_gt, epsg=4326)


def test_round_trip_from_pyramids_like_datasets(tmp_path):
    """A pyramids Dataset is used through its .raster (see conftest)."""
    data = sample(np.float32, (120, 90))
    ds = PyramidsLikeDataset.create_from_array(data, top_left_corner=(500000.0, 4500000.0), cell_size=30.0,
                                               epsg=EPSG, no_data_value=-1)
    check_round_trip(write_cog(ds, str(tmp_path / "p.tif")), data, -1)
    on_disk = PyramidsLikeDataset.create_from_array(data, top_left_corner=(500000.0, 4500000.0), cell_size=30.0,
                                                    epsg=EPSG, no_data_value=-1, driver_type="GTiff",
                                                    path=str(tmp_path / "p-src.tif"))
    check_round_trip(write_cog(on_disk, str(tmp_path / "q.tif")), data, -1)
    # the object need not be a class of ours: anything with .raster
    check_round_trip(write_cog(types.SimpleNamespace(raster=ds.raster), str(tmp_path / "r.tif")), data, -1)


def test_upstream_output_is_internally_tiled(tmp_path):
    """Ported from digitalrivers: an 8x8 pyramids raster becomes a tiled COG."""
    z = np.arange(64, dtype=np.float32).reshape(8, 8)
    ds = PyramidsLikeDataset.create_from_array(z, top_left_corner=(0.0, 0.0), cell_size=1.0, epsg=4326)
    written = write_cog(ds, str(tmp_path / "out.tif"))
    assert os.path.exists(written)
    handle = gdal.Open(written)
    assert handle.GetMetadata("IMAGE_STRUCTURE").get("LAYOUT") == "COG"
    x_block, y_block = handle.GetRasterBand(1).GetBlockSize()
    assert 0 < x_block and 0 < y_block
    np.testing.assert_array_equal(handle.ReadAsArray(), z)
    handle = None


def test_non_contiguous_fortran_and_big_endian_arrays(tmp_path):
    data = sample(np.float32, (200, 300))
    for name, array in [("strided", data[:, ::2]), ("fortran", np.asfortranarray(data)),
                        ("big-endian", data.astype(">f4")), ("transposed", data.T)]:
        out = write_cog(array, str(tmp_path / f"{name}.tif"), geotransform=GT, crs=EPSG)
        np.testing.assert_array_equal(gdal.Open(out).ReadAsArray(), array)


def test_overviews_when_larger_than_a_block(tmp_path):
    out = write_cog(sample(np.float32, (1500, 1300)), str(tmp_path / "big.tif"), geotransform=GT, crs=EPSG)
    validate_cog(out)
    ds = gdal.Open(out)
    band = ds.GetRasterBand(1)
    assert band.GetBlockSize() == [512, 512]
    assert band.GetOverviewCount() >= 1
    assert (band.GetOverview(0).YSize, band.GetOverview(0).XSize) == (750, 650)
    small = write_cog(sample(np.float32, (100, 100)), str(tmp_path / "small.tif"))
    small_ds = gdal.Open(small)  # keep the dataset while using its band
    assert small_ds.GetRasterBand(1).GetOverviewCount() == 0


# --- compression, predictor, options -------------------------------------------------------------


def declared_methods():
    options = ET.fromstring(gdal.GetDriverByName("COG").GetMetadataItem("DMD_CREATIONOPTIONLIST"))
    (compress,) = [o for o in options if o.get("name") == "COMPRESS"]
    return [v.text for v in compress]


LOSSY = {"JPEG": [(np.uint8, 1), (np.uint8, 3)], "WEBP": [(np.uint8, 3)]}  # 8-bit only; WEBP RGB(A) only
NO_64_BIT_INTS = {"LERC", "LERC_DEFLATE", "LERC_ZSTD"}  # LERC encodes up to 32-bit integers


def suitable(method):
    if method in LOSSY:
        return LOSSY[method]
    dtypes = [np.uint8, np.int16, np.uint16, np.int32, np.float32, np.float64]
    if method not in NO_64_BIT_INTS:
        dtypes.append(np.int64)
    return [(dtype, 1) for dtype in dtypes] + [(np.float32, 3)]


@pytest.mark.parametrize("method", declared_methods())
def test_every_declared_compression_method(tmp_path, method):
    for i, (dtype, bands) in enumerate(suitable(method)):
        data = sample(dtype, (bands, 64, 80) if bands > 1 else (64, 80))
        out = write_cog(data, str(tmp_path / f"{i}.tif"), compress=method.lower(), geotransform=GT, crs=EPSG)
        if i == 0:
            validate_cog(out)
        reported = compression(out) or "NONE"
        # GDAL reports 3-band JPEG as "YCbCr JPEG"
        assert reported.split()[-1] == method
        written = gdal.Open(out).ReadAsArray()
        if method in LOSSY:
            assert written.shape == data.shape
            assert np.abs(written.astype(float) - data).mean() < 8
        else:
            np.testing.assert_array_equal(written, data)


def test_the_declared_methods_include_the_usual_ones():
    assert {"NONE", "LZW", "DEFLATE", "ZSTD", "LERC"} <= set(declared_methods())


@pytest.mark.parametrize("method,dtype,bands", [("WEBP", np.uint8, 1), ("WEBP", np.float32, 3),
                                                ("LERC", np.int64, 1)])
def test_unsuitable_method_is_an_error_not_a_blank_file(tmp_path, method, dtype, bands):
    # checked before writing: GDAL's compression threads cannot report the error
    data = sample(dtype, (bands, 64, 80) if bands > 1 else (64, 80))
    with pytest.raises(cloudio.InvalidArgumentError, match=method):
        write_cog(data, str(tmp_path / "u.tif"), compress=method)
    assert os.listdir(tmp_path) == []


def test_unsuitable_method_single_threaded_is_an_error(tmp_path):
    data = sample(np.uint8, (64, 80))
    with pytest.raises(cloudio.InvalidArgumentError, match="WEBP"):
        write_cog(data, str(tmp_path / "u.tif"), compress="webp", options={"NUM_THREADS": 1})
    with pytest.raises(cloudio.InvalidArgumentError, match="JPEG"):
        write_cog(sample(np.float32, (64, 80)), str(tmp_path / "u.tif"), compress="jpeg")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("compress,expected", [("deflate", "DEFLATE"), ("lzw", "LZW"), ("zstd", "ZSTD"),
                                               ("none", None), ("DEFLATE", "DEFLATE"), ("Zstd", "ZSTD"),
                                               ("lerc_zstd", "LERC_ZSTD")])
def test_compress_reaches_the_file_case_insensitively(tmp_path, compress, expected):
    z = PyramidsLikeDataset.create_from_array(np.arange(64, dtype=np.float32).reshape(8, 8))
    assert compression(write_cog(z, str(tmp_path / "c.tif"), compress=compress)) == expected


def test_default_compress_is_deflate(tmp_path):
    assert compression(write_cog(sample(np.float32, (20, 20)), str(tmp_path / "d.tif"))) == "DEFLATE"


@pytest.mark.parametrize("compress", ["deflate", "ZSTD", "lzw"])
def test_default_predictor_by_data_type(tmp_path, compress):
    for dtype, predictor in [(np.int16, "2"), (np.uint8, "2"), (np.int32, "2"), (np.float32, "3"),
                             (np.float64, "3")]:
        ds = gdal.Open(write_cog(sample(dtype, (100, 100)), str(tmp_path / "p.tif"), compress=compress))
        assert ds.GetMetadata("IMAGE_STRUCTURE").get("PREDICTOR") == predictor, (dtype, compress)


def test_no_predictor_for_other_methods(tmp_path):
    for compress in ("lerc", "none", "lzma"):
        ds = gdal.Open(write_cog(sample(np.float32, (100, 100)), str(tmp_path / "l.tif"), compress=compress))
        assert "PREDICTOR" not in ds.GetMetadata("IMAGE_STRUCTURE"), compress


def test_options_override_defaults(tmp_path):
    data = sample(np.float32, (600, 600))
    ds = gdal.Open(write_cog(data, str(tmp_path / "o.tif"), options={"PREDICTOR": "NO", "BLOCKSIZE": 256}))
    assert "PREDICTOR" not in ds.GetMetadata("IMAGE_STRUCTURE")
    assert ds.GetRasterBand(1).GetBlockSize() == [256, 256]
    validate_cog(str(tmp_path / "o.tif"))
    ds = gdal.Open(write_cog(data, str(tmp_path / "p.tif"), options=["BLOCKSIZE=128", "PREDICTOR=2"]))
    assert ds.GetRasterBand(1).GetBlockSize() == [128, 128]
    assert ds.GetMetadata("IMAGE_STRUCTURE")["PREDICTOR"] == "2"
    ds = gdal.Open(write_cog(data, str(tmp_path / "q.tif"), options=("COMPRESS=ZSTD",)))
    assert ds.GetMetadata("IMAGE_STRUCTURE")["COMPRESSION"] == "ZSTD"
    ds = gdal.Open(write_cog(data, str(tmp_path / "r.tif"), options={"SPARSE_OK": True, "OVERVIEWS": "NONE"}))
    assert ds.GetRasterBand(1).GetOverviewCount() == 0
    ds = None


# --- progress, cancellation, interruption ------------------------------------------------------


def test_progress_reports_to_completion(tmp_path):
    fractions = []
    write_cog(sample(np.float32, (1200, 1200)), str(tmp_path / "p.tif"), progress=fractions.append)
    assert len(fractions) > 2
    assert fractions == sorted(fractions) and 0 <= fractions[0] and fractions[-1] == 1.0
    truthy = []
    write_cog(str(tmp_path / "p.tif"), str(tmp_path / "q.tif"), progress=lambda f: truthy.append(f) or True)
    assert truthy[-1] == 1.0


def test_progress_returning_false_cancels(tmp_path, listing):
    before = listing()
    with pytest.raises(cloudio.CancelledError):
        write_cog(sample(np.float32, (1200, 1200)), str(tmp_path / "c.tif"), progress=lambda f: f < 0.3)
    with pytest.raises(cloudio.CancelledError):
        write_cog(sample(np.float32, (100, 100)), str(tmp_path / "c.tif"), progress=lambda f: False)
    assert listing() == before


def test_exception_in_progress_propagates_with_its_type(tmp_path, listing):
    class Boom(Exception):
        pass

    def boom(fraction):
        if fraction > 0.2:
            raise Boom("from progress")
    with pytest.raises(Boom, match="from progress") as info:
        write_cog(sample(np.float32, (1200, 1200)), str(tmp_path / "x.tif"), progress=boom)
    assert info.value.__context__ is None  # not "during handling of CancelledError"
    assert listing() == []


def test_keyboard_interrupt_in_progress_cancels(tmp_path, listing):
    def interrupt(fraction):
        if fraction > 0.2:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        write_cog(sample(np.float32, (1200, 1200)), str(tmp_path / "y.tif"), progress=interrupt)
    src = source_tif(tmp_path / "src.tif", sample(np.int16, (700, 700)))
    with pytest.raises(KeyboardInterrupt):
        write_cog(src, str(tmp_path / "z.tif"), progress=interrupt)
    assert listing() == ["src.tif"]


@pytest.mark.parametrize("with_progress", [True, False])
def test_ctrl_c_cancels_a_write(tmp_path, with_progress):
    """A real SIGINT mid-write: KeyboardInterrupt at once, nothing at the
    destination, whether or not the caller passed a progress callable."""
    dst = tmp_path / "interrupted.tif"
    script = textwrap.dedent(f"""
        import os, signal, sys, time, numpy as np, cloudio
        data = np.random.default_rng(0).random((6000, 6000), dtype=np.float32)
        sent = []
        def progress(fraction):
            if not sent and fraction > 0.02:
                sent.append(time.monotonic())
                os.kill(os.getpid(), signal.SIGINT)  # as a Ctrl-C would
        start = time.monotonic()
        try:
            if {with_progress}:
                cloudio.write_cog(data, {str(dst)!r}, progress=progress)
            else:
                import threading
                threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
                cloudio.write_cog(data, {str(dst)!r})
        except KeyboardInterrupt:
            print("KeyboardInterrupt")
            sys.exit(0)
        print("finished")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            env=python_env())
    assert result.stdout.strip() == "KeyboardInterrupt", result.stdout + result.stderr
    assert os.listdir(tmp_path) == []


def test_progress_must_be_callable(tmp_path):
    with pytest.raises(ValueError, match="progress"):
        write_cog(sample(np.float32, (9, 9)), str(tmp_path / "a.tif"), progress=42)
    assert os.listdir(tmp_path) == []


# --- atomicity ---------------------------------------------------------------------------------


def test_failed_overwrite_keeps_the_existing_destination(tmp_path, listing):
    dst = tmp_path / "keep.tif"
    write_cog(sample(np.float32, (50, 50)), str(dst))
    before = dst.read_bytes()
    text = tmp_path / "text.tif"
    text.write_text("hello")
    names = listing()
    with pytest.raises(cloudio.CloudIOError):
        write_cog(str(text), str(dst))
    with pytest.raises(ValueError):
        write_cog(sample(np.float32, (50, 50)), str(dst), compress="nope")
    with pytest.raises(FileNotFoundError):
        write_cog(str(tmp_path / "missing.tif"), str(dst))
    with pytest.raises(cloudio.CancelledError):
        write_cog(sample(np.float32, (800, 800)), str(dst), progress=lambda f: False)
    with pytest.raises(ZeroDivisionError):
        write_cog(sample(np.float32, (800, 800)), str(dst), progress=lambda f: 1 / 0)
    with pytest.raises(KeyboardInterrupt):
        write_cog(sample(np.float32, (800, 800)), str(dst), progress=lambda f: (_ for _ in ()).throw(KeyboardInterrupt))
    assert dst.read_bytes() == before
    assert listing() == names


def test_successful_overwrite_replaces_the_destination(tmp_path):
    dst = str(tmp_path / "over.tif")
    write_cog(sample(np.float32, (50, 50)), dst)
    data = sample(np.int16, (2, 30, 40))
    check_round_trip(write_cog(data, dst, geotransform=GT, crs=EPSG, nodata=1), data, 1)
    assert os.listdir(tmp_path) == ["over.tif"]


def test_killed_write_leaves_nothing_at_the_destination(tmp_path):
    dst = tmp_path / "killed.tif"
    script = textwrap.dedent(f"""
        import sys, numpy as np, cloudio
        data = np.random.default_rng(0).random((6000, 6000), dtype=np.float32)
        said = []
        def progress(fraction):
            if not said and fraction > 0.05:
                said.append(1)
                sys.stdout.write("started\\n"); sys.stdout.flush()
        cloudio.write_cog(data, {str(dst)!r}, progress=progress)
        print("finished")
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=python_env())
    try:
        assert proc.stdout.readline().strip() == "started"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert not dst.exists()
    # a SIGKILL leaves no time to clean up: only a hidden temporary file may remain, never the destination
    assert all(name.startswith(".") for name in os.listdir(tmp_path)), os.listdir(tmp_path)


# --- bad inputs --------------------------------------------------------------------------------


def z9():
    return sample(np.float32, (9, 9))


@pytest.mark.parametrize("bad,error,match", [
    (lambda t: write_cog(z9(), t / "a.tif", compress="nope"), cloudio.InvalidArgumentError, "compress"),
    (lambda t: write_cog(z9(), t / "a.tif", compress="bogus"), ValueError, "BOGUS"),
    (lambda t: write_cog(z9(), t / "a.tif", compress="raw"), ValueError, "RAW"),
    (lambda t: write_cog(z9(), t / "a.tif", compress=""), ValueError, "compress"),
    (lambda t: write_cog(z9(), t / "a.tif", compress=None), ValueError, "compress"),
    (lambda t: write_cog(z9(), t / "a.tif", compress=3), ValueError, "compress"),
    (lambda t: write_cog(str(t / "missing.tif"), t / "a.tif"), cloudio.NotFoundError, "missing.tif"),
    (lambda t: write_cog(t / "missing.tif", t / "a.tif"), FileNotFoundError, "missing.tif"),
    (lambda t: write_cog(z9(), t / "no" / "dir.tif"), FileNotFoundError, "does not exist"),
    (lambda t: write_cog(np.zeros((9, 9), np.bool_), t / "a.tif"), ValueError, "dataset dtype bool"),
    (lambda t: write_cog(np.zeros((9, 9), np.complex64), t / "a.tif"), ValueError, "dtype complex64"),
    (lambda t: write_cog(np.zeros((9, 9), np.float16), t / "a.tif"), ValueError, "dtype float16"),
    (lambda t: write_cog(np.zeros((9, 9), object), t / "a.tif"), ValueError, "dtype object"),
    (lambda t: write_cog(np.zeros((9, 9), "U3"), t / "a.tif"), ValueError, "dtype"),
    (lambda t: write_cog(np.zeros(9, np.float32), t / "a.tif"), ValueError, "2-D"),
    (lambda t: write_cog(np.zeros((2, 2, 9, 9), np.float32), t / "a.tif"), ValueError, "2-D"),
    (lambda t: write_cog(np.float32(3), t / "a.tif"), ValueError, "dataset"),
    (lambda t: write_cog(np.zeros((0, 9), np.float32), t / "a.tif"), ValueError, "empty"),
    (lambda t: write_cog(z9(), t / "a.tif", geotransform=(1, 2, 3)), ValueError, "geotransform"),
    (lambda t: write_cog(z9(), t / "a.tif", geotransform=(1, 2, 3, 4, 5, 6, 7)), ValueError, "geotransform"),
    (lambda t: write_cog(z9(), t / "a.tif", geotransform=(0, 1, 0, 0, 0, "x")), ValueError, "geotransform"),
    (lambda t: write_cog(z9(), t / "a.tif", geotransform=5), ValueError, "geotransform"),
    (lambda t: write_cog(z9(), t / "a.tif", crs="NOT_A_CRS"), ValueError, "crs"),
    (lambda t: write_cog(z9(), t / "a.tif", crs=3.5), ValueError, "crs"),
    (lambda t: write_cog(z9(), t / "a.tif", crs=True), ValueError, "crs"),
    (lambda t: write_cog(z9(), t / "a.tif", nodata="zero"), ValueError, "nodata"),
    (lambda t: write_cog(z9(), t / "a.tif", options="BLOCKSIZE=256"), ValueError, "options"),
    (lambda t: write_cog(z9(), t / "a.tif", options=[256]), ValueError, "options"),
    (lambda t: write_cog(z9(), t / "a.tif", options=["BLOCKSIZE"]), ValueError, "KEY=VALUE"),
    (lambda t: write_cog(z9(), t / "a.tif", options={"NOPE": 1}), ValueError, "NOPE"),
    (lambda t: write_cog(z9(), t / "a.tif", options={"BLOCKSIZE": "big"}), ValueError, "BLOCKSIZE"),
    (lambda t: write_cog(z9(), os.fsdecode(bytes(t) + b"/\xff.tif")), ValueError, "UTF-8"),
    (lambda t: write_cog(z9(), str(t / "a\x00b.tif")), ValueError, "NUL"),
    (lambda t: write_cog(object(), t / "a.tif"), ValueError, "dataset"),
    (lambda t: write_cog([[1.0, 2.0]], t / "a.tif"), ValueError, "dataset"),
    (lambda t: write_cog(z9(), 42), ValueError, "path"),
    (lambda t: write_cog(z9(), None), ValueError, "path"),
])
def test_bad_inputs_raise_clearly_and_write_nothing(tmp_path, bad, error, match):
    with pytest.raises(error, match=match):
        bad(tmp_path)
    assert os.listdir(tmp_path) == []


def test_georeferencing_keywords_do_not_apply_to_files(tmp_path):
    src = source_tif(tmp_path / "src.tif", sample(np.float32, (20, 20)))
    for kwargs in ({"geotransform": GT}, {"crs": 4326}, {"nodata": 0}):
        with pytest.raises(ValueError, match="keeps its own"):
            write_cog(src, str(tmp_path / "a.tif"), **kwargs)
        with pytest.raises(ValueError, match="keeps its own"):
            write_cog(gdal.Open(src), str(tmp_path / "a.tif"), **kwargs)
    assert os.listdir(tmp_path) == ["src.tif"]


def test_a_text_file_named_tif_is_not_a_missing_file(tmp_path):
    text = tmp_path / "text.tif"
    text.write_text("not a raster")
    with pytest.raises(cloudio.CloudIOError, match="text.tif") as info:
        write_cog(str(text), str(tmp_path / "out.tif"))
    assert isinstance(info.value, cloudio.ReadWriteError) and not isinstance(info.value, FileNotFoundError)
    assert os.listdir(tmp_path) == ["text.tif"]


def test_destination_equal_to_the_source(tmp_path):
    src = source_tif(tmp_path / "src.tif", sample(np.float32, (20, 20)))
    before = open(src, "rb").read()
    with pytest.raises(ValueError, match="source"):
        write_cog(src, src)
    with pytest.raises(ValueError, match="source"):
        write_cog(gdal.Open(src), tmp_path / "src.tif")
    assert open(src, "rb").read() == before
    assert os.listdir(tmp_path) == ["src.tif"]


def test_unwritable_output_directory():
    # The tests run as root, which ignores permission bits; sysfs refuses new
    # files even to root (/proc says "No such file or directory" instead).
    target = "/sys/cloudio-test.tif"
    with pytest.raises(cloudio.CloudIOError, match="cloudio-test.tif") as info:
        write_cog(sample(np.float32, (20, 20)), target)
    assert not isinstance(info.value, FileNotFoundError)
    assert not os.path.exists(target)
