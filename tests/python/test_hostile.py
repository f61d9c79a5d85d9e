"""Hostile input and faults (issue 11): crafted files, injected panics.

Every probe that could crash runs in a child interpreter, so that a
regression fails its test instead of the suite."""
import json
import os
import struct

import numpy as np
import pytest
from osgeo import gdal

from conftest import python_env, run_python

HUGE_COUNTS = [2**40, 2**62, 2**63 + 5, 2**64 - 1]


def with_byte_counts(path, edit):
    """Rewrite the TileByteCounts of path's first IFD (a little-endian
    BigTIFF) as LONG8 values appended to the file, after edit(counts)."""
    data = bytearray(open(path, "rb").read())
    assert data[:4] == b"II+\0", "a little-endian BigTIFF"
    ifd = struct.unpack_from("<Q", data, 8)[0]
    n = struct.unpack_from("<Q", data, ifd)[0]
    for i in range(n):
        at = ifd + 8 + 20 * i
        tag, typ, count = struct.unpack_from("<HHQ", data, at)
        if tag != 325:
            continue
        size = {3: 2, 4: 4, 16: 8}[typ]
        where = at + 12 if size * count <= 8 else struct.unpack_from("<Q", data, at + 12)[0]
        fmt = {2: "H", 4: "I", 8: "Q"}[size]
        counts = list(struct.unpack_from(f"<{count}{fmt}", data, where))
        edit(counts)
        data += b"\0" * (-len(data) % 8)
        struct.pack_into("<HQ", data, at + 2, 16, count)
        struct.pack_into("<Q", data, at + 12, len(data))
        data += struct.pack(f"<{count}Q", *counts)
        open(path, "wb").write(bytes(data))
        return
    raise AssertionError("no TileByteCounts")


def huge_tile_file(path, count):
    """A 64 x 64 Float32 BigTIFF of four DEFLATE tiles whose last tile claims count bytes."""
    ds = gdal.GetDriverByName("GTiff").Create(str(path), 64, 64, 1, gdal.GDT_Float32,
                                              ["BIGTIFF=YES", "TILED=YES", "BLOCKXSIZE=32", "BLOCKYSIZE=32",
                                               "COMPRESS=DEFLATE"])
    ds.GetRasterBand(1).WriteArray(np.arange(64 * 64, dtype=np.float32).reshape(64, 64))
    ds = None

    def edit(counts):
        counts[3] = count
    with_byte_counts(str(path), edit)
    return str(path)


PROBE = """
import json, sys
import cloudio
name, how = sys.argv[1], sys.argv[2]
try:
    if how == "read_window":
        cloudio.read_window(name, (0, 0, 64, 64))
    elif how == "read_tiles":
        for _ in cloudio.read_tiles(name, 16, 16):
            pass
    else:
        cloudio.map_tiles(name, lambda t: t, sys.argv[3], tile_rows=16, tile_cols=16, halo=1)
    print(json.dumps({"raised": None}))
except Exception as exc:
    print(json.dumps({"raised": type(exc).__name__, "message": str(exc)}))
"""


def probe(name, how, *args, env=None):
    result = run_python(PROBE, args=(name, how) + args, env=env)
    assert result.returncode == 0, f"the process died ({result.returncode}):\n{result.stderr[-3000:]}"
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("count", HUGE_COUNTS)
@pytest.mark.parametrize("how", ["read_window", "read_tiles", "map_tiles"])
def test_huge_tile_byte_counts_are_read_errors(tmp_path, count, how):
    path = huge_tile_file(tmp_path / "huge.tif", count)
    outcome = probe(path, how, str(tmp_path / "out.tif"))
    assert outcome["raised"] == "ReadWriteError", outcome
    assert path in outcome["message"] and "tile (1, 1)" in outcome["message"], outcome
    assert not os.path.exists(tmp_path / "out.tif")


@pytest.mark.parametrize("count", HUGE_COUNTS)
def test_huge_tile_byte_counts_over_http_are_read_errors(range_server, count):
    base, root = range_server
    huge_tile_file(root / f"huge-{count}.tif", count)
    outcome = probe(f"{base}/huge-{count}.tif", "read_tiles")
    assert outcome["raised"] == "ReadWriteError" and "tile (1, 1)" in outcome["message"], outcome


@pytest.mark.parametrize("where,how", [("reader.work", "read_tiles"), ("reader.dispatch", "read_tiles"),
                                       ("reader.work", "map_tiles")])
def test_a_panic_on_a_library_goroutine_is_an_internal_error(tmp_path, where, how):
    """CLOUDIO_TEST_PANIC makes one fault point of the library's goroutines
    panic: the call raises InternalError and the process lives on."""
    path = str(tmp_path / "src.tif")
    ds = gdal.GetDriverByName("GTiff").Create(path, 64, 64, 1, gdal.GDT_Float32, ["COMPRESS=LZW"])
    ds = None
    outcome = probe(path, how, str(tmp_path / "out.tif"), env=python_env(CLOUDIO_TEST_PANIC=where))
    assert outcome["raised"] == "InternalError", outcome
    assert f"injected by CLOUDIO_TEST_PANIC={where}" in outcome["message"], outcome
    assert not os.path.exists(tmp_path / "out.tif")


def test_bands_of_different_types_read_each_with_its_values(tmp_path):
    """A VRT whose band 1 is Byte and band 2 Float32: band 2 keeps 1000000.5
    (it was clamped to 255), read with every band or alone."""
    import cloudio
    small = np.arange(20 * 30, dtype=np.uint8).reshape(20, 30)
    large = np.full((20, 30), 1000000.5, np.float32)
    paths = []
    for i, data in enumerate((small, large)):
        ds = gdal.GetDriverByName("GTiff").Create(str(tmp_path / f"b{i}.tif"), 30, 20, 1,
                                                  gdal.GDT_Byte if i == 0 else gdal.GDT_Float32)
        ds.GetRasterBand(1).WriteArray(data)
        ds = None
        paths.append(str(tmp_path / f"b{i}.tif"))
    vrt = str(tmp_path / "mixed.vrt")
    gdal.BuildVRT(vrt, paths, separate=True)
    both = cloudio.read_window(vrt, (0, 0, 20, 30))
    assert both.dtype == np.float32
    np.testing.assert_array_equal(both[0], small)
    np.testing.assert_array_equal(both[1], large)
    alone = cloudio.read_window(vrt, (0, 0, 20, 30), bands=[2])
    assert alone.dtype == np.float32 and (alone == 1000000.5).all()
    tiles = [tile for _, tile in cloudio.read_tiles(vrt, 8, 8, bands=2)]
    assert all((t == 1000000.5).all() for t in tiles)


def test_signed_bytes_read_and_write_as_int8(tmp_path):
    import cloudio
    data = (np.arange(40 * 50) % 256 - 128).astype(np.int8).reshape(40, 50)
    src = str(tmp_path / "i8.tif")
    ds = gdal.GetDriverByName("GTiff").Create(src, 50, 40, 1, gdal.GDT_Byte, ["PIXELTYPE=SIGNEDBYTE"])
    ds.GetRasterBand(1).WriteArray(data.view(np.uint8))
    ds = None
    read = cloudio.read_window(src, (0, 0, 40, 50))
    assert read.dtype == np.int8 and read.min() == -128
    np.testing.assert_array_equal(read, data)
    for out in (cloudio.write_cog(data, str(tmp_path / "array.tif")),
                cloudio.map_tiles(src, lambda t: t, str(tmp_path / "mapped.tif"), tile_rows=16, tile_cols=16)):
        back = gdal.Open(out)
        assert back.GetRasterBand(1).GetMetadataItem("PIXELTYPE", "IMAGE_STRUCTURE") == "SIGNEDBYTE", out
        np.testing.assert_array_equal(cloudio.read_window(out, (0, 0, 40, 50)), data)


@pytest.mark.parametrize("dtype,nodata", [(np.uint64, 2**64 - 1), (np.int64, 2**63 - 1), (np.int64, 2**53 + 1),
                                          (np.int64, -2**63), (np.uint8, 255), (np.float32, -3.4028234663852886e+38)])
def test_nodata_is_exact_end_to_end(tmp_path, dtype, nodata):
    import cloudio
    from cloudio._datasets import Dataset
    path = cloudio.write_cog(np.ones((20, 30), dtype), str(tmp_path / "n.tif"), nodata=nodata)
    assert Dataset(path).georef.nodata == nodata and type(Dataset(path).georef.nodata) is type(nodata)
    ds = gdal.Open(path)  # kept: its bands die with it
    band = ds.GetRasterBand(1)
    if dtype == np.uint64:
        assert band.GetNoDataValueAsUInt64() == nodata
    elif dtype == np.int64:
        assert band.GetNoDataValueAsInt64() == nodata


@pytest.mark.parametrize("dtype,nodata", [(np.uint8, 300), (np.uint8, -1), (np.float32, 1e40), (np.float32, 0.1),
                                          (np.int16, 1.5), (np.uint64, 2**64), (np.int64, 2**63)])
def test_nodata_outside_the_type_is_an_error_for_every_writer(tmp_path, dtype, nodata):
    import cloudio
    data = np.ones((20, 30), dtype)
    with pytest.raises(cloudio.InvalidArgumentError, match="is not a"):
        cloudio.write_cog(data, str(tmp_path / "n.tif"), nodata=nodata)
    if np.dtype(dtype).itemsize < 8:
        with pytest.raises(cloudio.InvalidArgumentError, match="is not a"):
            cloudio.write_zarr(data, str(tmp_path / "n.zarr"), nodata=nodata)
        src = cloudio.write_cog(data, str(tmp_path / "src.tif"))
        with pytest.raises(cloudio.InvalidArgumentError, match="is not a"):
            cloudio.map_tiles(src, lambda t: t, str(tmp_path / "m.tif"), nodata=nodata)
    assert sorted(os.listdir(tmp_path)) == (["src.tif"] if np.dtype(dtype).itemsize < 8 else [])


def tile_span(path, index):
    """(offset, byte count) of tile index of path's first IFD (a little-endian classic TIFF)."""
    data = open(path, "rb").read()
    assert data[:4] == b"II*\0"
    ifd = struct.unpack_from("<I", data, 4)[0]
    values = {}
    for i in range(struct.unpack_from("<H", data, ifd)[0]):
        tag, typ, count, value = struct.unpack_from("<HHII", data, ifd + 2 + 12 * i)
        if tag in (324, 325):
            size = {3: 2, 4: 4}[typ]
            where = ifd + 2 + 12 * i + 8 if size * count <= 4 else value
            values[tag] = struct.unpack_from(f"<{count}{'H' if size == 2 else 'I'}", data, where)
    return values[324][index], values[325][index]


def test_a_damaged_tile_never_becomes_a_valid_looking_cog(tmp_path):
    """64 flipped bytes inside a DEFLATE tile: GDAL's own copy succeeds with
    wrong cells; cloudio's writers raise ReadWriteError naming the tile and
    leave nothing behind."""
    import cloudio
    src = cloudio.write_cog(np.random.default_rng(1).random((300, 400), dtype=np.float32), str(tmp_path / "src.tif"),
                            options={"BLOCKSIZE": 128})
    off, n = tile_span(src, 1)
    data = bytearray(open(src, "rb").read())
    for i in range(off + n // 2 - 32, off + n // 2 + 32):
        data[i] ^= 0x5A
    open(src, "wb").write(bytes(data))
    gdal.Translate(str(tmp_path / "gdal.tif"), src, format="COG")  # GDAL: no error
    os.remove(tmp_path / "gdal.tif")
    for write in (lambda: cloudio.write_cog(src, str(tmp_path / "out.tif")),
                  lambda: cloudio.write_zarr(src, str(tmp_path / "out.zarr")),
                  lambda: cloudio.map_tiles(src, lambda t: t, str(tmp_path / "mapped.tif"))):
        with pytest.raises(cloudio.ReadWriteError, match=r"tile \(1, 0\)"):
            write()
    assert sorted(os.listdir(tmp_path)) == ["src.tif"]


def test_band_numbers_and_window_offsets_must_be_integers(tmp_path):
    import cloudio
    path = cloudio.write_cog(np.zeros((2, 10, 10), np.float32), str(tmp_path / "z.tif"))
    for bad in ([1.5], 1.5, [True]):
        with pytest.raises(ValueError, match="bands must be an integer"):
            cloudio.read_window(path, (0, 0, 2, 2), bands=bad)
        with pytest.raises(ValueError, match="bands must be an integer"):
            list(cloudio.read_tiles(path, 5, 5, bands=bad))
    with pytest.raises(ValueError, match="window must be an integer"):
        cloudio.read_window(path, (0.5, 0, 2, 2))
    assert cloudio.read_window(path, (np.int64(1), 0, 2, 2), bands=[np.int32(2)]).shape == (2, 2)


def test_a_progress_callback_returning_numpy_false_cancels(tmp_path):
    import cloudio
    with pytest.raises(cloudio.CancelledError):
        cloudio.write_cog(np.zeros((300, 300), np.float32), str(tmp_path / "z.tif"), progress=lambda f: np.float64(f) < 0)
    assert not os.listdir(tmp_path)


def test_errors_about_long_paths_keep_their_cause(tmp_path):
    """A destination too long for GDAL is a clear error, whole: the message
    names the ~2036-byte path and says what to do, and nothing is cut."""
    import cloudio
    deep = str(tmp_path)
    while len(deep) < 2036 - 210:
        deep = os.path.join(deep, "d" * 200)
    os.makedirs(deep)
    dst = os.path.join(deep, "f" * (2036 - len(deep) - 1))
    with pytest.raises(cloudio.InvalidArgumentError) as info:
        cloudio.write_cog(np.zeros((10, 10), np.float32), dst)
    assert dst in str(info.value) and str(info.value).endswith("use a shorter path")


def test_names_as_long_as_the_file_system_allows(tmp_path):
    import cloudio
    for n in (230, 255):
        dst = str(tmp_path / ("n" * (n - 4) + ".tif"))
        assert cloudio.write_cog(np.zeros((10, 10), np.float32), dst) == dst
        assert cloudio.map_tiles(dst, lambda t: t, dst[:-5] + "m.tif")
