"""Memory stays bounded whatever the raster size: a 32768 x 32768 Float32
raster (4 GiB uncompressed; smooth data, so a few MB on disk) is written by
to_cog, then streamed through read_tiles and map_tiles, each in its own
process whose peak RSS (resource.getrusage) must stay under 512 MB."""
import os
import subprocess
import sys
import textwrap

import pytest
from osgeo import gdal

pytestmark = pytest.mark.heavy

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SIDE = 32768
LIMIT_MB = 512


def run_measured(code, prefix=(), **env):
    """Run code in a fresh interpreter (after the command prefix, with env
    added to the environment); return (its stdout, peak RSS in MB)."""
    script = textwrap.dedent(code) + textwrap.dedent("""
        import resource
        print("PEAK_RSS_MB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    """)
    result = subprocess.run([*prefix, sys.executable, "-c", script], capture_output=True, text=True, timeout=900,
                            env=dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"), **env))
    assert result.returncode == 0, result.stdout + result.stderr
    peak = float(result.stdout.split("PEAK_RSS_MB")[1])
    print(f"peak RSS {peak:.0f} MB")
    return result.stdout, peak


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("big") / "big.tif")
    out, peak = run_measured(f"""
        import dask, dask.array as da, numpy as np, cloudio
        def ramp(block_id=None, block_info=None):
            (r0, r1), (c0, c1) = block_info[None]["array-location"]
            y, x = np.mgrid[r0:r1, c0:c1]
            return (y * 0.01 + x * 0.02).astype(np.float32)
        arr = da.map_blocks(ramp, chunks=((1024,) * {SIDE // 1024}, (1024,) * {SIDE // 1024}), dtype=np.float32)
        assert arr.nbytes >= 4 * 2**30
        with dask.config.set(scheduler="threads"):
            cloudio.to_cog(arr, {path!r}, geotransform=(0, 1, 0, 0, 0, -1), crs=3857)
    """)
    return path, peak


def test_to_cog_4gib_bounded(big):
    path, peak = big
    ds = gdal.Open(path)
    assert (ds.RasterYSize, ds.RasterXSize) == (SIDE, SIDE)
    assert ds.GetRasterBand(1).GetOverviewCount() > 0
    corner = ds.GetRasterBand(1).ReadAsArray(SIDE - 2, SIDE - 1, 2, 1)[0]
    assert corner.tolist() == pytest.approx([(SIDE - 1) * 0.01 + (SIDE - 2) * 0.02,
                                             (SIDE - 1) * 0.01 + (SIDE - 1) * 0.02], rel=1e-6)
    assert peak < LIMIT_MB, f"to_cog peak RSS {peak:.0f} MB"


def test_read_tiles_4gib_bounded(big):
    path, _ = big
    out, peak = run_measured(f"""
        import cloudio
        n = 0
        for win, tile in cloudio.read_tiles({path!r}, 1024, 1024):
            n += 1
        print("TILES", n)
    """)
    assert f"TILES {(SIDE // 1024) ** 2}" in out
    assert peak < LIMIT_MB, f"read_tiles peak RSS {peak:.0f} MB"


def test_map_tiles_4gib_bounded(big, tmp_path):
    path, _ = big
    dst = str(tmp_path / "plus1.tif")
    out, peak = run_measured(f"""
        import cloudio
        cloudio.map_tiles({path!r}, lambda t: t[1:-1, 1:-1] + 1, {dst!r}, halo=1)
    """)
    ds = gdal.Open(dst)  # kept: a band must not outlive its dataset
    assert ds.GetRasterBand(1).ReadAsArray(100, 200, 1, 1)[0, 0] == pytest.approx(200 * 0.01 + 100 * 0.02 + 1, rel=1e-6)
    assert peak < LIMIT_MB, f"map_tiles peak RSS {peak:.0f} MB"


@pytest.mark.servers
def test_to_cog_from_a_cluster_bounded(tmp_path):
    """to_cog on a 2-process LocalCluster: 1 GiB of chunks computed by the workers reaches the
    writing process (which also runs the scheduler) a few at a time."""
    side = 16384
    dst = str(tmp_path / "cluster.tif")
    out, peak = run_measured(f"""
        import dask, dask.array as da, distributed, numpy as np, cloudio
        def ramp(block_info=None):
            (r0, r1), (c0, c1) = block_info[None]["array-location"]
            y, x = np.mgrid[r0:r1, c0:c1]
            return (y * 0.01 + x * 0.02).astype(np.float32)
        if __name__ == "__main__":
            arr = da.map_blocks(ramp, chunks=((1024,) * {side // 1024}, (1024,) * {side // 1024}), dtype=np.float32)
            assert arr.nbytes >= 2**30
            with distributed.LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as lc, \\
                    distributed.Client(lc):
                cloudio.to_cog(arr, {dst!r}, geotransform=(0, 1, 0, 0, 0, -1), crs=3857)
    """)
    ds = gdal.Open(dst)
    assert (ds.RasterYSize, ds.RasterXSize) == (side, side)
    assert ds.GetRasterBand(1).ReadAsArray(side - 1, side - 1, 1, 1)[0, 0] == pytest.approx((side - 1) * 0.03, rel=1e-6)
    assert peak < LIMIT_MB, f"to_cog from a cluster: peak RSS {peak:.0f} MB"


@pytest.mark.servers
def test_map_tiles_to_s3_with_a_small_tmpdir(tmp_path_factory, tmp_path):
    """A 1 GiB map_tiles result of noise (it does not compress) goes to MinIO
    with TMPDIR on a 96 MiB tmpfs, mounted in a mount namespace of the
    child's own: the tiles are uploaded as they are encoded, so nothing the
    size of the raster is staged. The object is a valid COG of the noise,
    and the peak RSS stays under 512 MB."""
    from test_storage import start_minio
    side, tmpdir = 16384, tmp_path / "tmpfs"
    src = str(tmp_path / "zeros.vrt")
    ds = gdal.GetDriverByName("VRT").Create(src, side, side, 1, gdal.GDT_Float32)
    ds.SetGeoTransform((0, 1, 0, 0, 0, -1))
    ds = None
    os.mkdir(tmpdir)
    server = start_minio(tmp_path_factory, "noise")
    try:
        mount = f"mount -t tmpfs -o size=96m tmpfs {tmpdir} && exec \"$0\" \"$@\""
        out, peak = run_measured(f"""
            import numpy as np, cloudio
            from osgeo import gdal
            store = cloudio.cloud_storage("s3://noise", mode="w", **{server.options()!r})
            def noise(t, at=[0]):
                at[0] += 1
                return np.random.default_rng(at[0]).random(t.shape, dtype=np.float32)
            cloudio.map_tiles({src!r}, noise, "s3://noise/noise.tif", workers=1)
            ds = gdal.Open("/vsis3/noise/noise.tif")
            assert (ds.RasterYSize, ds.RasterXSize) == ({side}, {side})
            first = ds.GetRasterBand(1).ReadAsArray(0, 0, 1024, 1024)
            assert np.array_equal(first, np.random.default_rng(1).random((1024, 1024), dtype=np.float32))
            from osgeo_utils.samples.validate_cloud_optimized_geotiff import validate
            warnings, errors, _ = validate("/vsis3/noise/noise.tif", full_check=True)
            assert not errors, errors
            print("OBJECT_MB", gdal.VSIStatL("/vsis3/noise/noise.tif").size / 2**20)
        """, prefix=["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", mount], TMPDIR=str(tmpdir))
    finally:
        server.stop()
    size = float(out.split("OBJECT_MB")[1].split()[0])
    assert size > 4 * 96, f"the object is {size:.0f} MB: it does not prove that nothing was staged"
    assert peak < LIMIT_MB, f"map_tiles to S3 peak RSS {peak:.0f} MB"

