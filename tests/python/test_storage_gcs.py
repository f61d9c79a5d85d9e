"""Google Cloud Storage (/vsigs/) against fake-gcs-server, started here on
127.0.0.1 (the Makefile builds it into .tools from the Go module proxy),
through GDAL's CPL_GS_ENDPOINT.

Only reading, listing and deleting are tested: GDAL 3.6 uploads to /vsigs/
with a plain XML-API PUT, which fake-gcs-server v1.56.1 refuses ("400
invalid uploadType": it takes XML-API PUTs only as signed-URL uploads). The
objects are therefore seeded from the server's data folder."""
import os
import shutil
import subprocess

import numpy as np
import pytest
from osgeo import gdal

import cloudio
from cloudio import cloud_storage, map_tiles, read_tiles, read_window
from conftest import ROOT, every_tile, start_server
from test_storage import GT, free_port, local_dem, slope, wait_http  # noqa: F401  (local_dem is a fixture)

FAKE_GCS = os.path.join(ROOT, ".tools", "fake-gcs-server")
# The server checks no signature; these only make GDAL sign its requests.
ACCESS_KEY_ID, SECRET = "GOOGCLOUDIOTEST", "cloudio-gcs-test-secret-5d1c"


@pytest.fixture
def gcs(tmp_path_factory, local_dem):
    """A fresh server (it starts in a fraction of a second) whose bucket
    "dems" holds alps/dem.tif (local_dem's COG)."""
    data, root = tmp_path_factory.mktemp("gcs-seed"), tmp_path_factory.mktemp("gcs-root")
    os.makedirs(data / "dems" / "alps")
    shutil.copy(local_dem[0], data / "dems" / "alps" / "dem.tif")
    port = free_port()
    proc = start_server([FAKE_GCS, "-scheme", "http", "-host", "127.0.0.1", "-port", str(port),
                             "-public-host", f"127.0.0.1:{port}", "-backend", "filesystem",
                             "-filesystem-root", str(root), "-data", str(data), "-log-level", "error"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/_internal/healthcheck")
        yield dict(CPL_GS_ENDPOINT=f"http://127.0.0.1:{port}/", GS_ACCESS_KEY_ID=ACCESS_KEY_ID,
                   GS_SECRET_ACCESS_KEY=SECRET)
    finally:
        proc.terminate()
        proc.wait()


def test_gcs_read_list_and_delete(gcs, local_dem):
    _, data = local_dem
    store = cloud_storage("gs://dems", mode="w", replace=True, **gcs)
    assert SECRET not in repr(store)
    assert store.list() == ["alps/dem.tif"] and store.list("alps") == ["dem.tif"]
    assert store.exists() and store.exists("alps/dem.tif") and not store.exists("alps/other.tif")
    url = store.url("alps/dem.tif")
    for win, tile in every_tile(read_tiles(url, 256, 300), data.shape, 256, 300):
        np.testing.assert_array_equal(tile, data[win.slices])
    assert cloudio.validate(url, full_check=True) == (True, (), ()) and cloudio.info(url)["cog"]
    ds = gdal.Open("/vsigs/dems/alps/dem.tif")  # GDAL's own reader, with the same per-bucket options
    assert ds.GetGeoTransform() == GT and ds.GetRasterBand(1).GetNoDataValue() == -9999
    assert ds.GetSpatialRef().GetAuthorityCode(None) == "32633"
    ds = None
    assert float(store.dask("alps/dem.tif", 512, 512).sum(dtype=np.float64).compute()) == \
        pytest.approx(float(data.astype(np.float64).sum()))


def test_gcs_map_tiles_to_local(gcs, local_dem, tmp_path):
    _, data = local_dem
    store = cloud_storage("gs://dems", replace=True, **gcs)
    out = map_tiles(store.url("alps/dem.tif"), slope, str(tmp_path / "slope.tif"), tile_rows=400, tile_cols=300,
                    halo=1)
    np.testing.assert_array_equal(read_window(out, (0, 0, 1100, 900)), slope(np.pad(data, 1, mode="edge")))


def test_gcs_missing_bucket_is_not_found(gcs, local_dem):
    store = cloud_storage("gs://no-such-bucket", mode="w", replace=True, **gcs)
    with pytest.raises(cloudio.NotFoundError, match="no-such-bucket"):
        store.write_cog(local_dem[0], "x.tif")
    with pytest.raises(cloudio.NotFoundError):
        list(store.read_tiles("x.tif"))
    with pytest.raises(cloudio.NotFoundError):
        store.list()
    assert not store.exists()


def test_gcs_delete(gcs):
    store = cloud_storage("gs://dems", mode="w", replace=True, **gcs)
    store.delete("alps/dem.tif")
    assert not store.exists("alps/dem.tif") and store.list() == []
    with pytest.raises(FileNotFoundError):
        store.delete("alps/dem.tif")
