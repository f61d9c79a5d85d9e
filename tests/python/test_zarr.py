"""write_zarr and Zarr stores as rasters: local paths and MinIO (S3) on
127.0.0.1, read back through GDAL's own bindings, dask_backend and
read_tiles."""
import os
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from osgeo import gdal, osr

import cloudio
from cloudio import cloud_storage, dask_backend, read_tiles, read_window, write_cog, write_zarr
from cloudio._datasets import open_dataset
from test_storage import start_minio, terrain

GT = (500000.0, 30.0, 0.0, 4500000.0, 0.0, -30.0)
ZARR_COMPRESSORS = [v.text.lower() for o in ET.fromstring(
    gdal.GetDriverByName("Zarr").GetMetadataItem("DMD_CREATIONOPTIONLIST")).iter("Option")
    if o.get("name") == "COMPRESS" for v in o.iter("Value")]


@pytest.fixture(scope="module")
def minio(tmp_path_factory):
    server = start_minio(tmp_path_factory, "zarrs")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def dem(tmp_path_factory):
    """A local single-band DEM (a COG) and its values."""
    data = terrain(700, 530)
    path = write_cog(data, str(tmp_path_factory.mktemp("zarr-src") / "dem.tif"), geotransform=GT, crs=32633,
                     nodata=-9999)
    return path, data


@pytest.fixture(scope="module")
def dem3(tmp_path_factory):
    """A local 3-band Int16 raster and its values."""
    data = np.stack([terrain(300, 410, seed).astype(np.int16) for seed in range(3)])
    path = write_cog(data, str(tmp_path_factory.mktemp("zarr-src3") / "dem3.tif"), geotransform=GT, crs=32633,
                     nodata=-1)
    return path, data


def epsg_of(wkt):
    return osr.SpatialReference(wkt=wkt).GetAuthorityCode(None)


def check_through_gdal(name, data, nodata, chunks):
    """GDAL's own bindings read name (one band) with the georeferencing."""
    ds = gdal.Open(name)
    assert ds is not None, name
    band = ds.GetRasterBand(1)
    np.testing.assert_array_equal(ds.ReadAsArray(), data)
    assert ds.GetGeoTransform() == GT
    assert epsg_of(ds.GetProjection()) == "32633"
    assert band.GetNoDataValue() == nodata
    assert band.GetBlockSize() == [chunks[1], chunks[0]]  # GDAL's x-first order
    assert band.ReadAsArray().dtype == data.dtype


def check_through_cloudio(url, data, chunks):
    """read_tiles, read_window and dask_backend read the store by its URL,
    every band, values and georeferencing equal."""
    ds = open_dataset(url)
    assert ds.georef.geotransform == GT and epsg_of(ds.crs) == "32633"
    assert (ds.info.block_rows, ds.info.block_cols) == chunks
    assert ds.dtype == data.dtype
    rows, cols = data.shape[-2:]
    seen = 0
    for win, tile in read_tiles(url, 128, 200):
        np.testing.assert_array_equal(tile, data[(Ellipsis,) + win.slices])
        seen += win.n_rows * win.n_cols
    assert seen == rows * cols
    np.testing.assert_array_equal(read_window(url, (5, 7, 100, 90)), data[..., 5:105, 7:97])
    arr = dask_backend(url)
    assert arr.shape == data.shape and arr.dtype == data.dtype
    want = cloudio._dask.default_chunks(*chunks)
    assert (arr.chunks[-2][0], arr.chunks[-1][0]) == (min(rows, want[0]), min(cols, want[1]))
    np.testing.assert_array_equal(arr.compute(), data)


def test_local_round_trip(dem, tmp_path):
    path, data = dem
    out = write_zarr(path, tmp_path / "dem.zarr", chunks=(256, 200), compress="zstd")
    assert out == str(tmp_path / "dem.zarr")
    assert sorted(os.listdir(out)) == [".zgroup", ".zmetadata", "X", "Y", "dem"]
    check_through_gdal(out, data, -9999, (256, 200))
    check_through_cloudio(out, data, (256, 200))
    assert os.listdir(tmp_path) == ["dem.zarr"]  # no temporary left beside it


def test_local_bands(dem3, tmp_path):
    path, data = dem3
    out = write_zarr(path, str(tmp_path / "dem3.zarr"), chunks=128)
    for b in range(3):  # one array per band, each a raster for GDAL
        check_through_gdal(f'ZARR:"{out}":/dem3_band{b + 1}', data[b], -1, (128, 128))
    check_through_cloudio(out, data, (128, 128))
    np.testing.assert_array_equal(dask_backend(out, 100, 100, bands=[3, 1]).compute(), data[[2, 0]])
    # A store is a source like any other.
    back = write_cog(out, str(tmp_path / "back.tif"))
    np.testing.assert_array_equal(gdal.Open(back).ReadAsArray(), data)


def test_array_and_gdal_dataset_sources(tmp_path):
    data = terrain(90, 70)
    out = write_zarr(data, tmp_path / "np.zarr", geotransform=GT, crs="EPSG:32633", nodata=-5, chunks=32)
    check_through_gdal(out, data, -5, (32, 32))
    mem = gdal.GetDriverByName("MEM").Create("", 70, 90, 1, gdal.GDT_Float32)
    mem.SetGeoTransform(GT)
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    mem.SetProjection(srs.ExportToWkt())
    mem.GetRasterBand(1).WriteArray(data)
    mem.GetRasterBand(1).SetNoDataValue(-7)
    out = write_zarr(mem, tmp_path / "mem.zarr", chunks=(45, 70))
    check_through_gdal(out, data, -7, (45, 70))


@pytest.mark.parametrize("compress", ZARR_COMPRESSORS)
def test_every_compressor(dem, tmp_path, compress):
    path, data = dem
    out = write_zarr(path, tmp_path / "c.zarr", compress=compress.upper())
    zarray = open(os.path.join(out, "c", ".zarray")).read()  # the array is named after the store
    if compress == "none":
        assert re.search(r'"compressor":\s*null', zarray), zarray
    else:
        assert re.search(rf'"id":\s*"{compress}"', zarray), zarray
    np.testing.assert_array_equal(read_window(out, (0, 0, 700, 530)), data)


def test_errors_leave_nothing(dem, tmp_path):
    path, data = dem
    dst = str(tmp_path / "x.zarr")
    with pytest.raises(ValueError, match='unknown compress "BROTLI".*Zarr driver offers'):
        write_zarr(path, dst, compress="brotli")
    for bad in (0, -1, (256, 0), (1, 2, 3), "512", 2.5, True, (True, 4), 2**40):
        with pytest.raises(ValueError, match="chunks"):
            write_zarr(path, dst, chunks=bad)
    with pytest.raises(ValueError, match="compress"):
        write_zarr(path, dst, compress="")
    with pytest.raises(ValueError, match="BLOCKSIZE"):
        write_zarr(path, dst, chunks=8, options={"BLOCKSIZE": "4,4"})
    with pytest.raises(ValueError, match="BLOCKSIZE"):
        write_zarr(path, dst, blocksize=0)
    with pytest.raises(ValueError, match="geotransform, crs and nodata"):
        write_zarr(path, dst, nodata=0)
    with pytest.raises(ValueError, match="Byte"):
        write_zarr(np.zeros((4, 4), np.uint8), dst, nodata=-9999)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_zarr(path, tmp_path / "no" / "x.zarr")
    with pytest.raises(FileNotFoundError):
        write_zarr(tmp_path / "missing.tif", dst)
    with pytest.raises(cloudio.CancelledError):
        write_zarr(path, dst, progress=lambda f: f < 0.5)

    def boom(fraction):
        raise ZeroDivisionError("in progress")
    with pytest.raises(ZeroDivisionError):
        write_zarr(path, dst, progress=boom)
    assert os.listdir(tmp_path) == []
    write_zarr(path, dst)
    with pytest.raises(ValueError, match="already exists"):
        write_zarr(path, dst)



def test_store_of_unrelated_arrays_is_not_guessed(tmp_path):
    """Arrays that are not the bands of one raster must be named."""
    store = write_zarr(np.zeros((2, 8, 9), np.float32), tmp_path / "two.zarr", geotransform=GT)
    os.rename(os.path.join(store, "two_band1"), os.path.join(store, "elevation"))
    os.rename(os.path.join(store, "two_band2"), os.path.join(store, "slope"))
    os.remove(os.path.join(store, ".zmetadata"))  # GDAL lists the directory instead
    with pytest.raises(ValueError, match="several arrays.*slope"):
        read_window(store, (0, 0, 8, 9))
    assert read_window(f'ZARR:"{store}":/slope', (0, 0, 8, 9)).shape == (8, 9)


def test_s3_round_trip(minio, dem, dem3):
    store = cloud_storage("s3://zarrs", mode="w", **minio.options())
    path, data = dem
    fractions = []
    url = store.write_zarr(path, "alps/dem.zarr", chunks=(300, 256), compress="zlib", progress=fractions.append)
    assert url == "s3://zarrs/alps/dem.zarr" and fractions[-1] == 1.0
    listing = store.list("alps/dem.zarr")
    assert {".zgroup", ".zmetadata", "dem/.zarray", "dem/.zattrs", "dem/0.0"} <= set(listing), listing
    assert len([n for n in listing if n.startswith("dem/") and not n.startswith("dem/.")]) == 3 * 3
    # GDAL's bindings share this process's GDAL, and with it the store's
    # path-specific credentials.
    check_through_gdal("/vsis3/zarrs/alps/dem.zarr", data, -9999, (300, 256))
    check_through_cloudio(url, data, (300, 256))
    np.testing.assert_array_equal(store.dask("alps/dem.zarr").compute(), data)
    for win, tile in store.read_tiles("alps/dem.zarr", 256, 256):
        np.testing.assert_array_equal(tile, data[win.slices])
    path3, data3 = dem3
    store.write_zarr(path3, "dem3.zarr", chunks=150)
    check_through_cloudio(store.url("dem3.zarr"), data3, (150, 150))
    band2 = f'ZARR:"{store.url("dem3.zarr")}":/dem3_band2'  # one array, its store by URL
    np.testing.assert_array_equal(dask_backend(band2, 100, 100).compute(), data3[1])
    assert cloudio._store_options.access_for(band2)[0].prefix == "s3://zarrs/"
    np.testing.assert_array_equal(store.dask("dem3.zarr", 100, 100).compute(), data3)
    with pytest.raises(ValueError, match="already exists"):
        store.write_zarr(path, "alps/dem.zarr")


def test_s3_failures_leave_no_object(minio, dem):
    path, _ = dem
    store = cloud_storage("s3://zarrs", mode="w", **minio.options())
    before = store.list()
    with pytest.raises(cloudio.CancelledError):  # in the upload, after some chunks are on the server
        store.write_zarr(path, "cancelled.zarr", chunks=64, progress=lambda f: f < 0.75)
    with pytest.raises(cloudio.CancelledError):  # while GDAL writes the local copy
        store.write_zarr(path, "cancelled.zarr", chunks=64, progress=lambda f: f < 0.25)
    assert store.list() == before and not store.exists("cancelled.zarr")
    with pytest.raises(ValueError, match="unknown compress"):
        store.write_zarr(path, "bad.zarr", compress="snappy")
    with pytest.raises(ValueError, match="chunks"):
        store.write_zarr(path, "bad.zarr", chunks=0)
    assert store.list() == before


def test_read_only_store_and_missing_bucket(minio, dem):
    path, _ = dem
    with pytest.raises(ValueError, match="mode='r'"):
        cloud_storage("s3://zarrs", **minio.options()).write_zarr(path, "ro.zarr")
    missing = cloud_storage("s3://no-such-zarr-bucket", mode="w", **minio.options())
    with pytest.raises(cloudio.NotFoundError, match="no-such-zarr-bucket"):
        missing.write_zarr(path, "x.zarr")
    with pytest.raises(FileNotFoundError):
        list(missing.read_tiles("x.zarr"))
    with pytest.raises(FileNotFoundError):
        cloud_storage("s3://zarrs", **minio.options()).dask("never-written.zarr")
