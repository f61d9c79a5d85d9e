"""dask_backend and to_cog on Dask's threaded and processes schedulers and
on a real dask.distributed LocalCluster with worker processes."""
import os
import subprocess
import sys
import textwrap
import time

import dask
import dask.array as da
import distributed
import numpy as np
import pytest
from osgeo import gdal, osr

import cloudio
from cloudio import cloud_storage, dask_backend, to_cog, write_cog

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GT = (500000.0, 30.0, 0.0, 4500000.0, 0.0, -30.0)


def slope(padded, cell=30.0):
    z = padded.astype(np.float64)
    dzdx = (z[1:-1, 2:] - z[1:-1, :-2]) / (2 * cell)
    dzdy = (z[2:, 1:-1] - z[:-2, 1:-1]) / (2 * cell)
    return np.degrees(np.arctan(np.hypot(dzdx, dzdy))).astype(np.float32)


def block_slope(block):
    return np.pad(slope(block), 1, mode="edge")


def terrain(rows, cols, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:rows, 0:cols]
    return (800 + 200 * np.sin(x / 29.0) * np.cos(y / 17.0) + rng.normal(0, 1, (rows, cols))).astype(np.float32)


@pytest.fixture(scope="module")
def dem(tmp_path_factory):
    d = tmp_path_factory.mktemp("dask")
    data = terrain(900, 700)
    path = write_cog(data, str(d / "dem.tif"), geotransform=GT, crs=32633, nodata=-9999,
                     options={"BLOCKSIZE": 256})
    return path, data


@pytest.fixture(scope="module")
def dem3(tmp_path_factory):
    d = tmp_path_factory.mktemp("dask3")
    data = np.stack([terrain(257, 311, s).astype(np.int16) for s in range(3)])
    return write_cog(data, str(d / "dem3.tif"), geotransform=GT, crs=32633), data


def test_bands_that_do_not_exist_fail_when_the_graph_is_built_with_the_librarys_answer(dem3):
    """The library checks the bands when dask_backend builds the graph (cloudio_dataset_read_type),
    not the first task, and its message is the one every read of the raster gives."""
    path, _ = dem3
    for bands in ([4], [1, 0], -1):
        with pytest.raises(cloudio.InvalidArgumentError, match=r"band (4|0|-1) does not exist \(the raster has bands 1\.\.3\)"):
            dask_backend(path, 64, 64, bands=bands)
    with pytest.raises(cloudio.InvalidArgumentError, match="band 4 does not exist"):
        cloudio.read_window(path, (0, 0, 5, 5), bands=4)
    with pytest.raises(cloudio.InvalidArgumentError, match="band 0 does not exist"):
        cloudio.read_tiles(path, 64, 64, bands=[0])  # at the call, not the first tile
    with pytest.raises(ValueError, match="at least one band"):
        dask_backend(path, 64, 64, bands=[])  # [] is no selection (to the library, no bands are every band)


def test_default_chunks_follow_blocks(dem):
    path, _ = dem
    assert dask_backend(path).chunks == ((900,), (700,))  # 1024 x 1024, clipped to the raster
    assert cloudio._dask.default_chunks(256, 256) == (1024, 1024)
    assert cloudio._dask.default_chunks(512, 512) == (1024, 1024)
    assert cloudio._dask.default_chunks(1, 700) == (1024, 700)


@pytest.mark.parametrize("chunks", [(None, None), (300, 350), (256, 256), (899, 1), (1000, 1000)])
def test_values_equal_gdal(dem, chunks):
    path, data = dem
    arr = dask_backend(path, *chunks)
    assert arr.shape == data.shape and arr.dtype == np.float32
    np.testing.assert_array_equal(arr.compute(), gdal.Open(path).ReadAsArray())


def test_several_bands(dem3):
    path, data = dem3
    arr = dask_backend(path, 100, 128)
    assert arr.shape == (3, 257, 311) and arr.dtype == np.int16
    np.testing.assert_array_equal(arr.compute(), data)
    np.testing.assert_array_equal(dask_backend(path, 64, 64, bands=[3, 1]).compute(), data[[2, 0]])
    np.testing.assert_array_equal(dask_backend(path, 64, 64, bands=2).compute(), data[1])


def test_map_overlap_slope_to_cog_bit_identical(dem, tmp_path):
    path, data = dem
    arr = dask_backend(path, 333, 256)
    result = arr.map_overlap(block_slope, depth=1, boundary="nearest", dtype=np.float32)
    out = to_cog(result, str(tmp_path / "slope.tif"))
    ds = gdal.Open(out)
    np.testing.assert_array_equal(ds.ReadAsArray(), slope(np.pad(data, 1, mode="edge")))
    assert ds.GetGeoTransform() == GT
    assert osr.SpatialReference(wkt=ds.GetProjection()).GetAuthorityCode(None) == "32633"
    assert ds.GetRasterBand(1).GetNoDataValue() == -9999
    assert subprocess.run([sys.executable, "-m", "osgeo_utils.samples.validate_cloud_optimized_geotiff", out]).returncode == 0


def test_processes_scheduler(dem, tmp_path):
    path, data = dem
    arr = dask_backend(path, 300, 300)
    with dask.config.set(scheduler="processes", num_workers=2):
        assert float(arr.astype(np.float64).sum().compute()) == pytest.approx(float(data.astype(np.float64).sum()))
        out = to_cog(arr + 1, str(tmp_path / "plus1.tif"))
    np.testing.assert_array_equal(gdal.Open(out).ReadAsArray(), data + 1)


def test_xarray_dataarray(dem, tmp_path):
    path, data = dem
    xda = dask_backend(path, 256, 256, xarray=True)
    assert xda.dims == ("y", "x")
    assert xda.x.values[0] == GT[0] + GT[1] / 2 and xda.y.values[0] == GT[3] + GT[5] / 2
    out = to_cog(xda * 2, str(tmp_path / "x2.tif"))
    np.testing.assert_array_equal(gdal.Open(out).ReadAsArray(), data * 2)


def test_to_cog_explicit_georef_and_plain_arrays(tmp_path):
    arr = da.from_array(terrain(130, 90), chunks=50)
    out = to_cog(arr, str(tmp_path / "plain.tif"), geotransform=(1, 2, 0, 3, 0, -2), crs=4326, nodata=0)
    ds = gdal.Open(out)
    assert ds.GetGeoTransform() == (1, 2, 0, 3, 0, -2) and ds.GetRasterBand(1).GetNoDataValue() == 0
    np.testing.assert_array_equal(ds.ReadAsArray(), arr.compute())


def test_to_cog_errors_leave_nothing(dem, tmp_path):
    path, _ = dem
    arr = dask_backend(path, 300, 300)
    with pytest.raises(ValueError, match="2-D"):
        to_cog(da.zeros((2, 2, 2, 2)), str(tmp_path / "a.tif"))
    with pytest.raises(ValueError, match="compress"):
        to_cog(arr, str(tmp_path / "b.tif"), compress="nope")

    def boom(block):
        raise ZeroDivisionError("in a task")
    with pytest.raises(ZeroDivisionError):
        to_cog(arr.map_blocks(boom, dtype=np.float32), str(tmp_path / "c.tif"))
    with pytest.raises(cloudio.CancelledError):
        to_cog(arr, str(tmp_path / "d.tif"), progress=lambda f: f < 0.5)
    assert os.listdir(tmp_path) == []


def test_task_errors_keep_type_and_name_window(dem, tmp_path):
    path, data = dem
    copy = tmp_path / "copy.tif"
    copy.write_bytes(open(path, "rb").read())
    arr = dask_backend(str(copy), 300, 300)
    os.truncate(copy, os.path.getsize(copy) // 4)
    cloudio._datasets._cache.clear()  # a fresh handle sees the truncated file
    with pytest.raises(cloudio.ReadWriteError, match=r"window \(\d+, \d+, \d+, \d+\)"):
        arr.compute(scheduler="sync")
    with pytest.raises(FileNotFoundError):
        dask_backend(str(tmp_path / "missing.tif"))
    with pytest.raises(ValueError, match="tile_rows"):
        dask_backend(path, 0, 10)
    with pytest.raises(ValueError, match="in memory"):
        dask_backend(data)


def test_local_cluster_two_processes(dem, tmp_path):
    """A 2-process LocalCluster: a sum, and a COG whose every pixel and every
    overview level equals GDAL's own COG of the same data."""
    path, data = dem
    reference = str(tmp_path / "gdal.tif")
    mem = gdal.GetDriverByName("MEM").Create("", data.shape[1], data.shape[0], 1, gdal.GDT_Float32)
    mem.GetRasterBand(1).WriteArray(data)
    mem.GetRasterBand(1).SetNoDataValue(-9999)
    gdal.Translate(reference, mem, format="COG", creationOptions=["COMPRESS=DEFLATE", "OVERVIEW_RESAMPLING=AVERAGE"])
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        arr = dask_backend(path, 256, 200)
        assert float(arr.astype(np.float64).sum().compute()) == pytest.approx(float(data.astype(np.float64).sum()))
        out = to_cog(arr, str(tmp_path / "cluster.tif"))
    ours, theirs = gdal.Open(out), gdal.Open(reference)
    np.testing.assert_array_equal(ours.ReadAsArray(), theirs.ReadAsArray())
    b1, b2 = ours.GetRasterBand(1), theirs.GetRasterBand(1)
    assert b1.GetOverviewCount() == b2.GetOverviewCount() > 0
    for i in range(b1.GetOverviewCount()):
        np.testing.assert_array_equal(b1.GetOverview(i).ReadAsArray(), b2.GetOverview(i).ReadAsArray())


def test_import_without_dask():
    code = textwrap.dedent("""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == "dask" or name.startswith("dask.") or name == "distributed":
                    raise ImportError("blocked for the test")
        sys.meta_path.insert(0, Block())
        import cloudio
        try:
            cloudio.dask_backend("x.tif")
        except ImportError as e:
            print("IMPORTERROR", e)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            env=dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python")))
    assert "IMPORTERROR" in result.stdout and "pip install" in result.stdout, result.stdout + result.stderr


# --- to_cog on dask.distributed: bounded futures, shared tasks once, errors; fork ----------------


@pytest.fixture(scope="module")
def cluster():
    """A 2-process LocalCluster's client, used through dask.config.set(scheduler=...) only: it
    does not become the default scheduler of the other tests."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as lc, \
            distributed.Client(lc, set_as_default=False) as client:
        yield client


def scheduler_keys(client, name, state=None):
    """Keys of graph layer ``name`` the scheduler holds (in ``state`` when given); keys are strings
    on distributed 2022.12 and tuples on later releases."""
    def keys(dask_scheduler):
        return [str(ts.key) for ts in dask_scheduler.tasks.values() if state is None or ts.state in state]
    return [k for k in client.run_on_scheduler(keys) if k.startswith(f"('{name}', ")]


def test_cluster_to_cog_bounds_chunks_in_flight_and_runs_shared_reads_once(dem, tmp_path, cluster):
    path, data = dem
    arr = dask_backend(path, 128, 128)  # 8 x 6 chunks

    def edge_slope(block):  # defined here, so that workers get it by value
        z = block.astype(np.float64)
        dzdx = (z[1:-1, 2:] - z[1:-1, :-2]) / 60.0
        dzdy = (z[2:, 1:-1] - z[:-2, 1:-1]) / 60.0
        return np.pad(np.degrees(np.arctan(np.hypot(dzdx, dzdy))).astype(np.float32), 1, mode="edge")

    result = arr.map_overlap(edge_slope, depth=1, boundary="nearest", dtype=np.float32)
    unfinished = []  # output chunks queued or running, sampled as each chunk but the last is written

    def sample(fraction):
        if fraction < 0.8:
            unfinished.append(len(scheduler_keys(cluster, result.name, ("released", "waiting", "queued",
                                                                         "no-worker", "processing"))))
    with dask.config.set(scheduler=cluster), distributed.get_task_stream(client=cluster) as stream:
        out = to_cog(result, str(tmp_path / "slope.tif"), progress=sample, chunks_in_flight=3)
    np.testing.assert_array_equal(gdal.Open(out).ReadAsArray(), slope(np.pad(data, 1, mode="edge")))
    assert len(unfinished) == result.npartitions - 1 == 47  # (the last one reports 0.8)
    # the chunk just written is done: at most 2 others were submitted, and there was overlap
    assert 1 <= max(unfinished) <= 2, unfinished
    # every source tile was read once, though its edges feed up to 8 neighbours' halos
    reads = [t["key"] for t in stream.data if str(t["key"]).startswith("('cloudio-read-")]
    assert len(reads) == len(set(reads)) == arr.npartitions, sorted(reads)
    assert scheduler_keys(cluster, result.name) == []  # nothing left behind


def test_cluster_to_cog_errors_keep_type_name_the_window_and_cancel_the_rest(dem, tmp_path, cluster):
    path, _ = dem
    arr = dask_backend(path, 128, 128)

    def fail_one(block, block_info=None):
        if block_info[0]["chunk-location"] == (3, 2):
            raise ZeroDivisionError("chunk (3, 2) failed")
        return block

    failing = arr.map_blocks(fail_one, dtype=np.float32)
    out = tmp_path / "out"
    out.mkdir()
    with dask.config.set(scheduler=cluster):
        with pytest.raises(ZeroDivisionError, match=r"chunk \(3, 2\) failed") as info:
            to_cog(failing, str(out / "c.tif"), chunks_in_flight=4)
        if sys.version_info >= (3, 11):
            assert "rows 384:512, cols 256:384" in "".join(info.value.__notes__)
        copy = tmp_path / "copy.tif"
        copy.write_bytes(open(path, "rb").read())
        truncated = dask_backend(str(copy), 128, 128)  # opened here; the workers open it after this:
        os.truncate(copy, os.path.getsize(copy) // 4)
        with pytest.raises(cloudio.ReadWriteError, match=r"window \(\d+, \d+, 128, \d+\)"):
            to_cog(truncated, str(out / "t.tif"))
        with pytest.raises(ValueError, match="chunks_in_flight"):
            to_cog(arr, str(out / "v.tif"), chunks_in_flight=0)
    assert os.listdir(out) == []
    for name in (failing.name, truncated.name):  # the chunks in flight were cancelled, not left running
        for _ in range(100):
            if not scheduler_keys(cluster, name):
                break
            time.sleep(0.1)
        assert scheduler_keys(cluster, name) == []


def test_fork_started_workers_fail_fast_with_a_clear_error(dem):
    """Dask's processes scheduler and dask.distributed spawn their workers; told to fork them
    from a process that has loaded the library, the first chunk raises CloudIOError at once
    (no hang), and the forkserver start method works."""
    path, data = dem
    code = textwrap.dedent(f"""
        import time, dask, distributed, numpy as np, cloudio
        def attempt(label, compute):
            start = time.monotonic()
            try:
                print(label, compute())
            except cloudio.CloudIOError as e:
                print(label, type(e).__name__, "spawn" in str(e) and "fork" in str(e) and "window" in str(e),
                      time.monotonic() - start < 10)
        if __name__ == "__main__":
            arr = cloudio.dask_backend({path!r}, 300, 300)  # loads the library here
            for method in ("fork", "forkserver"):
                with dask.config.set({{"scheduler": "processes", "num_workers": 2, "multiprocessing.context": method}}):
                    attempt("processes-" + method, lambda: float(arr.sum(dtype=np.float64).compute()))
            with dask.config.set({{"distributed.worker.multiprocessing-method": "fork"}}), \\
                    distributed.LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=None) as lc, \\
                    distributed.Client(lc):
                attempt("distributed-fork", lambda: float(arr.sum(dtype=np.float64).compute()))
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env=dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python")))
    total = float(data.astype(np.float64).sum())
    lines = result.stdout.split("\n")
    assert lines[0] == "processes-fork CloudIOError True True", result.stdout + result.stderr
    assert lines[1].split()[0] == "processes-forkserver" and float(lines[1].split()[1]) == pytest.approx(total)
    assert lines[2] == "distributed-fork CloudIOError True True", result.stdout + result.stderr


@pytest.mark.servers
def test_store_options_reach_worker_processes(dem, tmp_path_factory, monkeypatch):
    """A 2-process LocalCluster and the processes scheduler read from MinIO
    with the options of the Store that covers the URL, though the workers'
    environment holds no AWS variable: the tasks carry them (never in their
    keys, nor in the graph's repr)."""
    from test_storage import SECRET, start_minio
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(key)
    server = start_minio(tmp_path_factory, "dask-dems")
    try:
        path, data = dem
        store = cloud_storage("s3://dask-dems", mode="w", **server.options())
        url = store.write_cog(path, "dem.tif")
        zarr = store.write_zarr(path, "dem.zarr", chunks=256)
        arr = store.dask("dem.tif", 256, 200)
        assert SECRET not in repr(dict(arr.dask)) and SECRET not in repr(arr.__dask_keys__())
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      dashboard_address=None) as cluster, distributed.Client(cluster) as client:
            environments = client.run(lambda: sorted(k for k in os.environ if k.startswith("AWS_")))
            assert len(environments) == 2 and all(env == [] for env in environments.values())
            # Without the store's options a worker cannot even reach MinIO.
            with pytest.raises(cloudio.CloudIOError) as info:
                client.submit(cloudio._dask.read_chunk, url, (0, 0, 10, 10), (1,), "<f4", True).result()
            assert SECRET not in str(info.value)
            np.testing.assert_array_equal(arr.compute(), data)
            np.testing.assert_array_equal(dask_backend(zarr, 300, 300).compute(), data)
            pids = client.run(os.getpid)
            assert os.getpid() not in pids.values()
        with dask.config.set(scheduler="processes", num_workers=2):
            assert float(dask_backend(url, 300, 300).astype(np.float64).sum().compute()) == \
                pytest.approx(float(data.astype(np.float64).sum()))
    finally:
        server.stop()


def test_a_failing_chunk_names_its_url_with_the_password_masked(range_server):
    """A chunk read that fails in a task: the message names the window and the URL the chunk
    came from, with the URL's user:password (HTTP basic authentication) masked."""
    base, root = range_server
    data = np.random.default_rng(5).random((600, 500), dtype=np.float32)  # incompressible: no block is cached
    write_cog(data, str(root / "chunked.tif"), geotransform=GT, crs=32633)
    password = "dask-url-password-51c"
    arr = dask_backend(base.replace("http://", f"http://reader:{password}@") + "/chunked.tif", 256, 256)
    os.remove(root / "chunked.tif")  # opened already: the chunks' reads fail
    with pytest.raises(cloudio.CloudIOError) as info:
        arr.compute(scheduler="sync")
    message = str(info.value)
    assert "dask_backend chunk: window" in message and "http://***@" in message and "chunked.tif" in message
    assert password not in message


def test_what_a_failing_chunk_adds_to_the_message_is_scrubbed_by_the_library(tmp_path):
    """The chunk message names the raster; that name goes through the library's scrubbing, so a
    presigned URL's signature is masked there as in the library's own messages."""
    from cloudio._dask import read_chunk
    name = str(tmp_path / "gone.tif") + "?X-Amz-Signature=deadbeef51c&X-Amz-Date=1"
    with pytest.raises(cloudio.NotFoundError) as info:
        read_chunk(name, (0, 0, 1, 1), (1,), "<f4", True)
    message = str(info.value)
    assert "dask_backend chunk: window (0, 0, 1, 1)" in message and "X-Amz-Signature=***&X-Amz-Date=1" in message
    assert "deadbeef51c" not in message
