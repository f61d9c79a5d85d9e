"""Cloud storage against real servers on 127.0.0.1: MinIO for S3 (started
here, data in a temporary folder) and a counting HTTP Range server of our own
(tests/rangeserver) for /vsicurl/."""
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest
from osgeo import gdal

import cloudio
from cloudio import cloud_storage, map_tiles, read_tiles, read_window, write_cog
from cloudio._datasets import open_dataset
from conftest import ROOT, every_tile, start_server

MINIO = os.path.join(ROOT, ".tools", "minio")
USER, SECRET = "cloudio-test", "cloudio-test-secret-8f3a"
GT = (500000.0, 30.0, 0.0, 4500000.0, 0.0, -30.0)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


class MinIO:
    def __init__(self, data):
        self.data, self.port = str(data), free_port()
        self.proc = None

    def start(self):
        env = dict(os.environ, MINIO_ROOT_USER=USER, MINIO_ROOT_PASSWORD=SECRET, MINIO_BROWSER="off")
        self.proc = start_server([MINIO, "server", self.data, "--address", f"127.0.0.1:{self.port}", "--quiet"],
                                     env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_http(f"http://127.0.0.1:{self.port}/minio/health/live")

    def stop(self):
        self.proc.kill()
        self.proc.wait()

    def options(self, secret=SECRET):
        return dict(AWS_S3_ENDPOINT=f"127.0.0.1:{self.port}", AWS_HTTPS=False, AWS_VIRTUAL_HOSTING=False,
                    AWS_ACCESS_KEY_ID=USER, AWS_SECRET_ACCESS_KEY=secret)


def start_minio(tmp_path_factory, *buckets):
    """A MinIO with buckets. Its endpoint differs from every other's, so a
    test module that starts its own uses buckets of its own: a prefix has
    one set of options per process."""
    data = tmp_path_factory.mktemp("minio")
    for bucket in buckets:
        os.mkdir(data / bucket)  # a folder in the data directory is a bucket
    server = MinIO(data)
    server.start()
    return server


@pytest.fixture(scope="module")
def minio(tmp_path_factory):
    server = start_minio(tmp_path_factory, "dems", "results")
    yield server
    server.stop()


def terrain(rows, cols, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:rows, 0:cols]
    return (900 + 300 * np.sin(x / 41.0) * np.cos(y / 29.0) + rng.normal(0, 1, (rows, cols))).astype(np.float32)


@pytest.fixture(scope="module")
def local_dem(tmp_path_factory):
    data = terrain(1100, 900)
    path = write_cog(data, str(tmp_path_factory.mktemp("local") / "dem.tif"), geotransform=GT, crs=32633,
                     nodata=-9999)
    return path, data


def slope(padded):
    z = padded.astype(np.float64)
    dzdx = (z[1:-1, 2:] - z[1:-1, :-2]) / 60.0
    dzdy = (z[2:, 1:-1] - z[:-2, 1:-1]) / 60.0
    return np.degrees(np.arctan(np.hypot(dzdx, dzdy))).astype(np.float32)


def test_s3_round_trip(minio, local_dem):
    path, data = local_dem
    store = cloud_storage("s3://dems", mode="w", **minio.options())
    assert store.exists() and not cloud_storage("s3://no-such-bucket", **minio.options()).exists()
    url = store.write_cog(path, "alps/dem.tif")
    assert url == "s3://dems/alps/dem.tif"
    assert store.exists("alps/dem.tif") and not store.exists("alps/other.tif")
    assert store.list() == ["alps/dem.tif"] and store.list("alps") == ["dem.tif"]
    for win, tile in every_tile(read_tiles(url, 256, 300), data.shape, 256, 300):
        np.testing.assert_array_equal(tile, data[win.slices])
    ds = open_dataset(url)
    assert ds.georef.geotransform == GT and ds.georef.nodata == -9999 and "32633" in ds.crs
    assert float(store.dask("alps/dem.tif", 512, 512).sum(dtype=np.float64).compute()) == \
        pytest.approx(float(data.astype(np.float64).sum()))
    store.delete("alps/dem.tif")
    assert not store.exists("alps/dem.tif")
    with pytest.raises(FileNotFoundError):
        store.delete("alps/dem.tif")


def test_map_tiles_object_store_to_object_store(minio, local_dem):
    path, data = local_dem
    dems = cloud_storage("s3://dems", mode="w", **minio.options())
    results = cloud_storage("s3://results", mode="w", **minio.options())
    src = dems.write_cog(path, "src.tif")
    out = map_tiles(src, slope, results.url("slope.tif"), tile_rows=400, tile_cols=300, halo=1)
    assert results.exists("slope.tif")
    np.testing.assert_array_equal(read_window(out, (0, 0, 1100, 900)), slope(np.pad(data, 1, mode="edge")))


def test_numpy_to_s3_and_validator(minio, tmp_path):
    store = cloud_storage("s3://results", mode="w", **minio.options())
    data = terrain(700, 600)
    store.write_cog(data, "np.tif", geotransform=GT, crs=32633)
    local = str(tmp_path / "copy.tif")
    write_cog(store.url("np.tif"), local)  # S3 -> local
    assert subprocess.run([sys.executable, "-m", "osgeo_utils.samples.validate_cloud_optimized_geotiff", local]).returncode == 0
    np.testing.assert_array_equal(gdal.Open(local).ReadAsArray(), data)


def test_validate_and_info_on_s3(minio, local_dem):
    path, _ = local_dem
    store = cloud_storage("s3://results", mode="w", **minio.options())
    url = store.write_cog(path, "checked.tif")
    assert cloudio.validate(url) == cloudio.validate(path) == (True, (), ())
    assert cloudio.validate(url, full_check=True).valid
    remote, local = cloudio.info(url), cloudio.info(path)
    # The copy's statistics were summed in another order: equal to rounding.
    remote_stats, local_stats = remote["band_info"][0].pop("statistics"), local["band_info"][0].pop("statistics")
    assert remote_stats == pytest.approx(local_stats, rel=1e-12)
    assert remote == local and remote["cog"] and remote["crs"]["epsg"] == 32633
    with pytest.raises(FileNotFoundError):
        cloudio.validate(store.url("missing.tif"))
    with pytest.raises(FileNotFoundError):
        cloudio.info(store.url("missing.tif"))


def test_wrong_credentials_never_show_the_secret(minio, local_dem):
    path, _ = local_dem
    good = cloud_storage("s3://dems", mode="w", **minio.options())
    good.write_cog(path, "private.tif")
    wrong_secret = "this-is-the-wrong-secret-42"
    with pytest.raises(cloudio.InvalidArgumentError, match="AWS_SECRET_ACCESS_KEY.*replace=True") as info:
        cloud_storage("s3://dems", mode="w", **minio.options(secret=wrong_secret))
    assert wrong_secret not in str(info.value) and SECRET not in str(info.value)
    bad = cloud_storage("s3://dems", mode="w", replace=True, **minio.options(secret=wrong_secret))
    assert wrong_secret not in repr(bad) and "***" in repr(bad)
    for attempt in (bad.list, lambda: list(bad.read_tiles("private.tif")),
                    lambda: bad.write_cog(path, "other.tif")):
        with pytest.raises(cloudio.CloudIOError) as info:
            attempt()
        assert wrong_secret not in str(info.value) and SECRET not in str(info.value)
    cloud_storage("s3://dems", mode="w", replace=True, **minio.options())  # the right credentials again
    assert good.list()  # the old store of the prefix uses them too


def test_missing_bucket_is_not_found(minio, local_dem):
    path, _ = local_dem
    store = cloud_storage("s3://no-such-bucket", mode="w", **minio.options())
    with pytest.raises(FileNotFoundError, match="no-such-bucket"):
        store.write_cog(path, "x.tif")
    with pytest.raises(FileNotFoundError):
        list(store.read_tiles("x.tif"))
    with pytest.raises(FileNotFoundError):
        store.list()


def test_read_only_store_refuses_writes(minio, local_dem):
    path, _ = local_dem
    store = cloud_storage("s3://dems", **minio.options())
    with pytest.raises(ValueError, match="mode='r'"):
        store.write_cog(path, "ro.tif")
    with pytest.raises(ValueError, match="mode='r'"):
        store.delete("ro.tif")
    with pytest.raises(ValueError, match="read-only"):
        cloud_storage("https://example.com/data", mode="w")
    with pytest.raises(ValueError):
        cloud_storage("/tmp/local")
    with pytest.raises(ValueError):
        cloud_storage("s3://dems", mode="x")
    with pytest.raises(ValueError):
        cloud_storage("s3://dems", aws_region="lowercase")


def test_unreachable_endpoint_fails_in_bounded_time(local_dem):
    store = cloud_storage("s3://dems", mode="w", replace=True, AWS_S3_ENDPOINT=f"127.0.0.1:{free_port()}", AWS_HTTPS=False,
                          AWS_VIRTUAL_HOSTING=False, AWS_ACCESS_KEY_ID=USER, AWS_SECRET_ACCESS_KEY=SECRET)
    t0 = time.time()
    with pytest.raises(cloudio.CloudIOError):
        store.write_cog(local_dem[0], "x.tif")
    with pytest.raises(cloudio.CloudIOError):
        list(store.read_tiles("x.tif"))
    assert time.time() - t0 < 60


@contextlib.contextmanager
def silent_endpoint():
    """host:port of a socket that takes connections and never answers."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        yield f"127.0.0.1:{silent.getsockname()[1]}"


def fails_soon(calls, seconds=20):
    """Every call raises ReadWriteError (no answer is not a missing object)
    within seconds; the messages."""
    messages = []
    for call in calls:
        t0 = time.time()
        with pytest.raises(cloudio.ReadWriteError) as info:
            call()
        assert time.time() - t0 < seconds, (call, str(info.value))
        messages.append(str(info.value))
    return messages


def test_silent_endpoint_fails_within_the_store_timeout(local_dem):
    """GDAL 3.6 reads its HTTP timeouts only from the global or the calling
    thread's configuration, never from those scoped to a prefix: cloudio
    pins a store's onto the thread of each call it makes for the store."""
    with silent_endpoint() as endpoint:
        store = cloud_storage("s3://dems", mode="w", replace=True, AWS_S3_ENDPOINT=endpoint, AWS_HTTPS=False,
                              AWS_VIRTUAL_HOSTING=False, AWS_ACCESS_KEY_ID=USER, AWS_SECRET_ACCESS_KEY=SECRET,
                              GDAL_HTTP_TIMEOUT=2, GDAL_HTTP_MAX_RETRY=0)
        messages = fails_soon([store.list, lambda: list(store.read_tiles("x.tif")), lambda: store.exists("x.tif"),
                               store.exists, lambda: store.write_cog(local_dem[0], "x.tif")])
        assert not any(SECRET in m for m in messages)
        assert "no answer" in messages[2] and "timed out" in messages[1]


@pytest.mark.servers
def test_server_stopped_during_upload_leaves_no_object(tmp_path):
    data_dir = tmp_path / "minio"
    os.makedirs(data_dir / "dems")
    server = MinIO(data_dir)
    server.start()
    try:
        store = cloud_storage("s3://dems", mode="w", replace=True, **server.options())
        big = np.random.default_rng(1).random((3000, 3000), dtype=np.float32)  # incompressible: a long upload

        def stop_server(fraction):
            if fraction >= 1.0 and server.proc.poll() is None:
                server.stop()  # the COG is complete locally; its upload is next
        with pytest.raises(cloudio.ReadWriteError):
            store.write_cog(big, "big.tif", progress=stop_server)
    finally:
        if server.proc.poll() is not None:
            server.start()
    store = cloud_storage("s3://dems", mode="w", **server.options())  # the same options: no replace needed
    assert not store.exists("big.tif")
    assert store.list() == []
    server.stop()


@pytest.fixture(scope="module")
def http_server(range_server):
    base, root = range_server
    data = np.add.outer(np.arange(8192, dtype=np.float32) * 0.5, np.arange(8192, dtype=np.float32))
    write_cog(data, str(root / "dem8k.tif"), geotransform=GT, crs=32633)
    return base, root, data


def stats(base, reset=False):
    if reset:
        urllib.request.urlopen(urllib.request.Request(base + "/__reset", method="POST"))
        return None
    return json.load(urllib.request.urlopen(base + "/__stats"))


def test_http_one_block_reads_a_sliver(http_server):
    base, root, data = http_server
    size = os.path.getsize(root / "dem8k.tif")
    cloud_storage(base, GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR")
    stats(base, reset=True)
    block = read_window(base + "/dem8k.tif", (4096, 2048, 512, 512))
    s = stats(base)
    np.testing.assert_array_equal(block, data[4096:4608, 2048:2560])
    print("one block:", s, "file bytes:", size)
    assert s["requests"] <= 4, s
    assert s["bytes"] < 0.02 * size, (s, size)


def test_http_whole_file_reads_each_byte_about_once(http_server):
    base, root, data = http_server
    size = os.path.getsize(root / "dem8k.tif")
    cloud_storage(base, GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR")
    cloudio._datasets._cache.clear()
    stats(base, reset=True)
    total = 0.0
    for win, tile in every_tile(read_tiles(base + "/dem8k.tif", 1024, 1024), data.shape, 1024, 1024):
        total += float(tile.sum(dtype=np.float64))
    s = stats(base)
    print("whole file:", s, "file bytes:", size)
    assert total == pytest.approx(float(data.astype(np.float64).sum()))
    assert s["bytes"] < 1.25 * size, (s, size)
    with pytest.raises(ValueError, match="read-only"):
        write_cog(data[:10, :10], base + "/x.tif")


def test_a_password_in_a_url_never_reaches_a_message_or_a_repr(http_server):
    """user:password in a URL (HTTP basic authentication): the library's messages and the
    Python layer's (a Store's repr, an argument error) name the URL with the password masked."""
    base, _, data = http_server
    password = "url-password-7c1e"
    with_password = base.replace("http://", f"http://reader:{password}@")
    np.testing.assert_array_equal(read_window(with_password + "/dem8k.tif", (5, 7, 2, 3)), data[5:7, 7:10])
    missing = with_password + "/no-such.tif"
    for attempt in (lambda: read_window(missing, (0, 0, 1, 1)), lambda: cloudio.info(missing),
                    lambda: list(read_tiles(missing, 256, 256))):
        with pytest.raises(cloudio.NotFoundError) as info:
            attempt()
        assert "no-such.tif" in str(info.value) and "http://***@" in str(info.value)
        assert password not in str(info.value)
    store = cloud_storage(with_password)
    assert store.url("a.tif") == with_password + "/a.tif"
    assert password not in repr(store) and "http://***@" in repr(store)
    with pytest.raises(ValueError, match="read-only") as info:
        cloud_storage(with_password, mode="w")
    assert password not in str(info.value) and "http://***@" in str(info.value)


def path_option(name, key):
    """What GDAL itself (this process's GDAL, shared with the bindings) uses for key under name."""
    return gdal.GetPathSpecificOption(name, key)


def test_one_set_of_options_per_prefix():
    """No request is made: only what GDAL is configured with is checked."""
    first = dict(AWS_S3_ENDPOINT="127.0.0.1:1", AWS_ACCESS_KEY_ID="first-id", AWS_SECRET_ACCESS_KEY="first-secret")
    cloud_storage("s3://prefix-rules", **first)
    same = dict(reversed(list(first.items())))
    cloud_storage("s3://prefix-rules/", mode="w", **same)  # the same options (any order, mode or slash): fine
    other = dict(first, AWS_SECRET_ACCESS_KEY="second-secret", AWS_S3_ENDPOINT="127.0.0.1:2")
    with pytest.raises(cloudio.InvalidArgumentError) as info:
        cloud_storage("s3://prefix-rules", **other)
    message = str(info.value)
    assert "AWS_S3_ENDPOINT, AWS_SECRET_ACCESS_KEY" in message and "replace=True" in message
    assert "first-secret" not in message and "second-secret" not in message
    assert path_option("/vsis3/prefix-rules/a.tif", "AWS_SECRET_ACCESS_KEY") == "first-secret"  # untouched
    with pytest.raises(cloudio.InvalidArgumentError):
        cloud_storage("s3://prefix-rules")  # fewer options are other options too
    cloud_storage("s3://prefix-rules", replace=True, **other)
    assert path_option("/vsis3/prefix-rules/a.tif", "AWS_SECRET_ACCESS_KEY") == "second-secret"
    assert path_option("/vsis3/prefix-rules/a.tif", "AWS_S3_ENDPOINT") == "127.0.0.1:2"


def test_nested_prefixes_follow_gdal_longest_prefix_rule():
    cloud_storage("s3://nested-rules", AWS_S3_ENDPOINT="127.0.0.1:1", AWS_ACCESS_KEY_ID="outer-id")
    cloud_storage("s3://nested-rules/team", AWS_ACCESS_KEY_ID="inner-id", GDAL_HTTP_TIMEOUT="5")
    inner, outer = "/vsis3/nested-rules/team/dem.tif", "/vsis3/nested-rules/other/dem.tif"
    assert path_option(inner, "AWS_ACCESS_KEY_ID") == "inner-id"  # the longest prefix that sets it
    assert path_option(inner, "AWS_S3_ENDPOINT") == "127.0.0.1:1"  # not set there: from the shorter one
    assert path_option(inner, "GDAL_HTTP_TIMEOUT") == "5"
    assert path_option(outer, "AWS_ACCESS_KEY_ID") == "outer-id"
    assert path_option(outer, "GDAL_HTTP_TIMEOUT") == "60"  # cloudio's default for the outer prefix


def test_the_options_a_name_carries_are_those_of_the_stores_the_library_says_cover_it():
    """The library canonicalises a store's prefix and decides which stores cover a name (the
    options dask_backend ships with a task): a sibling bucket whose name only starts the same
    is not covered, and a scheme's other spelling or case is."""
    from cloudio._store_options import access_for
    dems = cloud_storage("s3://covers-dems", AWS_ACCESS_KEY_ID="dems-id")
    team = cloud_storage("s3://covers-dems/team/", AWS_ACCESS_KEY_ID="team-id")
    gcs = cloud_storage("gs://covers-gcs", GS_ACCESS_KEY_ID="gcs-id")
    assert (dems.prefix, team.prefix, gcs.prefix) == ("s3://covers-dems/", "s3://covers-dems/team/", "gs://covers-gcs/")
    assert dems.url("/a.tif") == "s3://covers-dems/a.tif"
    prefixes = lambda name: [a.prefix for a in access_for(name)]  # noqa: E731
    assert prefixes("s3://covers-dems2/a.tif") == []
    assert prefixes("s3://covers-dems/teams/a.tif") == ["s3://covers-dems/"]
    assert prefixes("s3://covers-dems/team/a.tif") == ["s3://covers-dems/", "s3://covers-dems/team/"]
    assert prefixes('ZARR:"S3://covers-dems/x.zarr":/dem') == ["s3://covers-dems/"]
    assert prefixes("/vsis3/covers-dems/a.tif") == ["s3://covers-dems/"]
    assert prefixes("gcs://covers-gcs/a.tif") == ["gs://covers-gcs/"]
    assert prefixes("/tmp/covers-dems/a.tif") == []
    with pytest.raises(cloudio.InvalidArgumentError, match="read-only"):
        cloud_storage("HTTPS://example.com/data", mode="w")  # the library knows HTTP in any case
    with pytest.raises(cloudio.InvalidArgumentError, match="not an object store"):
        cloud_storage("covers-relative/dir")
