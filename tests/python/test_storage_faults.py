"""Stores under faults (issue 11): stores scoped to a sub-prefix, servers
that freeze, objects rewritten under a reader, options carried by Dask
tasks, secrets in reprs and messages. MinIO on 127.0.0.1, as in
test_storage."""
import os
import signal
import time

import numpy as np
import pytest
from osgeo import gdal

import cloudio
from cloudio import cloud_storage, read_window
from test_storage import GT, MinIO, start_minio, terrain


@pytest.fixture(scope="module")
def minio(tmp_path_factory):
    server = start_minio(tmp_path_factory, "scoped", "frozen", "rewritten", "tasks")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def small_dem(tmp_path_factory):
    data = terrain(200, 300)
    path = cloudio.write_cog(data, str(tmp_path_factory.mktemp("faults") / "dem.tif"), geotransform=GT, crs=32633)
    return path, data


def test_a_store_scoped_to_a_sub_prefix_needs_no_other_credentials(minio, small_dem):
    """Its options reach GDAL for its prefix only (no credentials in the
    environment, none for the bucket's root): writing, listing, reading and
    deleting under it work, and its existence checks look at its own prefix."""
    assert not {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"} & set(os.environ)
    path, data = small_dem
    store = cloud_storage("s3://scoped/team/deep", mode="w", **minio.options())
    assert gdal.GetPathSpecificOption("/vsis3/scoped/x", "AWS_SECRET_ACCESS_KEY") is None
    assert store.exists()  # an empty prefix of an existing bucket
    assert store.list() == [] and not store.exists("a.tif")
    url = store.write_cog(path, "a.tif")
    assert store.list() == ["a.tif"] and store.exists("a.tif")
    np.testing.assert_array_equal(read_window(url, (0, 0, 200, 300)), data)
    store.delete("a.tif")
    assert not store.exists("a.tif") and store.list() == []
    missing = cloud_storage("s3://no-such-bucket-here/team", mode="w", **minio.options())
    assert not missing.exists()
    with pytest.raises(cloudio.NotFoundError, match="no-such-bucket-here"):
        missing.write_cog(path, "a.tif")


@pytest.mark.servers
def test_a_frozen_server_fails_every_call_within_its_timeout(tmp_path, small_dem):
    """Once an object has been opened (GDAL caches what it learnt), a server
    that takes connections and never answers makes every call fail, with a
    ReadWriteError (no answer is not a missing bucket, whatever was cached),
    within timeout x (retries + 1) plus a small margin."""
    os.makedirs(tmp_path / "data" / "frozen")
    server = MinIO(tmp_path / "data")
    server.start()
    path, _ = small_dem
    try:
        store = cloud_storage("s3://frozen", mode="w", replace=True, GDAL_HTTP_TIMEOUT=2, GDAL_HTTP_MAX_RETRY=0,
                              **server.options())
        url = store.write_cog(path, "dem.tif")
        read_window(url, (0, 0, 10, 10))
        assert store.list() == ["dem.tif"]
        os.kill(server.proc.pid, signal.SIGSTOP)
        for what, call in [("list", store.list), ("exists", lambda: store.exists("dem.tif")),
                           ("exists missing", lambda: store.exists("other.tif")), ("exists root", store.exists),
                           ("write", lambda: store.write_cog(path, "other.tif")),
                           ("delete", lambda: store.delete("dem.tif")),
                           ("read cached", lambda: read_window(url, (0, 0, 200, 300))),
                           ("read tiles", lambda: list(store.read_tiles("dem.tif", 100, 100)))]:
            t0 = time.time()
            with pytest.raises(cloudio.ReadWriteError) as info:
                call()
                pytest.fail(f"{what} returned while the server was frozen")
            took = time.time() - t0
            assert took < 2 * (0 + 1) + 2, (what, took, str(info.value))
            assert not isinstance(info.value, FileNotFoundError), what
    finally:
        os.kill(server.proc.pid, signal.SIGCONT)
        server.stop()


def test_reads_after_cloudio_rewrote_an_object_see_the_new_one(minio, small_dem, tmp_path):
    """read_window, dask_backend and tile_windows keep handles (and sizes)
    of what they opened; cloudio writing or deleting the object drops them."""
    path, data = small_dem
    store = cloud_storage("s3://rewritten", mode="w", **minio.options())
    url = store.write_cog(path, "dem.tif")
    assert read_window(url, (0, 0, 2, 2)).tolist() == data[:2, :2].tolist()
    assert store.dask("dem.tif").shape == (200, 300)
    assert len(list(cloudio.tile_windows(url, 100, 100))) == 6
    other = np.arange(120 * 90, dtype=np.float32).reshape(120, 90)
    store.write_cog(other, "dem.tif", geotransform=GT, crs=32633)
    np.testing.assert_array_equal(read_window(url, (0, 0, 120, 90)), other)
    assert store.dask("dem.tif").shape == (120, 90)
    assert len(list(cloudio.tile_windows(url, 100, 100))) == 2
    cloudio.map_tiles(url, lambda t: t + 1, url + ".tmp.tif")
    store.delete("dem.tif")
    with pytest.raises(FileNotFoundError):
        read_window(url, (0, 0, 1, 1))


def test_options_carried_by_tasks_never_replace_newer_ones(minio, small_dem):
    """A Dask array made before cloud_storage(..., replace=True) carries the
    old options; computing it in this process must not put them back: the
    store with the new (wrong) secret keeps failing, and nothing it writes
    succeeds."""
    path, _ = small_dem
    good = cloud_storage("s3://tasks", mode="w", replace=True, **minio.options())
    good.write_cog(path, "dem.tif")
    arr = good.dask("dem.tif", 100, 100)
    bad = cloud_storage("s3://tasks", mode="w", replace=True, **minio.options(secret="the-new-wrong-secret"))
    with pytest.raises(cloudio.ReadWriteError):
        arr.compute(scheduler="threads")
    with pytest.raises(cloudio.ReadWriteError):
        bad.write_cog(path, "other.tif")
    assert gdal.GetPathSpecificOption("/vsis3/tasks/x", "AWS_SECRET_ACCESS_KEY") == "the-new-wrong-secret"
    good = cloud_storage("s3://tasks", mode="w", replace=True, **minio.options())
    assert float(arr.sum().compute(scheduler="threads")) > 0  # and with the right options back, it reads


def test_no_secret_in_a_repr_or_a_message(minio, tmp_path):
    """Headers, user:password, URL credentials and SAS signatures are masked
    in reprs, and messages that would carry them (GDAL's own among them)
    carry none."""
    from cloudio._datasets import open_dataset
    store = cloud_storage(f"http://127.0.0.1:{minio.port}/dems", GDAL_HTTP_HEADERS="Authorization: Bearer tok-123456",
                          GDAL_HTTP_USERPWD="ann:pw-654321")
    assert "tok-123456" not in repr(store) and "pw-654321" not in repr(store)
    with pytest.raises(cloudio.CloudIOError) as info:
        read_window(f"http://bob:pw-777777@127.0.0.1:{minio.port}/dems/missing.tif", (0, 0, 1, 1))
    assert "pw-777777" not in str(info.value) and "http://***@127.0.0.1" in str(info.value)
    sas = "sv=2020-08-04&ss=b&srt=sco&sp=rl&se=2099-01-01T00:00:00Z&sig=sAsSiGnAtUrE%3D"
    with pytest.raises(cloudio.CloudIOError) as info:
        open_dataset(f"/vsicurl/http://127.0.0.1:{minio.port}/dems/missing.tif?{sas}")
    assert "sAsSiGnAtUrE" not in str(info.value), str(info.value)


def test_a_panic_in_a_zarr_upload_is_an_internal_error(minio):
    """The Zarr upload's goroutines recover too: the write fails with
    InternalError, in a child process that must live on, and leaves no
    store behind."""
    from conftest import python_env, run_python
    code = """
import json, sys
import numpy as np
import cloudio
store = cloudio.cloud_storage("s3://tasks", mode="w", replace=True, AWS_S3_ENDPOINT=sys.argv[1], AWS_HTTPS=False,
                              AWS_VIRTUAL_HOSTING=False, AWS_ACCESS_KEY_ID=sys.argv[2], AWS_SECRET_ACCESS_KEY=sys.argv[3])
try:
    store.write_zarr(np.ones((600, 600), np.float32), "panicked.zarr", chunks=256)
    print(json.dumps({"raised": None}))
except Exception as exc:
    print(json.dumps({"raised": type(exc).__name__, "message": str(exc), "left": store.list("panicked.zarr")}))
"""
    opts = minio.options()
    result = run_python(code, args=(opts["AWS_S3_ENDPOINT"], opts["AWS_ACCESS_KEY_ID"], opts["AWS_SECRET_ACCESS_KEY"]),
                        env=python_env(CLOUDIO_TEST_PANIC="zarr.upload"))
    assert result.returncode == 0, result.stderr[-3000:]
    import json
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["raised"] == "InternalError" and "CLOUDIO_TEST_PANIC=zarr.upload" in outcome["message"], outcome
    assert outcome["left"] == [], outcome
