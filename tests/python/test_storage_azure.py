"""Azure Blob storage (/vsiaz/) against Azurite's blob service, started here
on 127.0.0.1 with its data in a temporary folder (the Makefile installs it
into .tools/azurite from the npm registry)."""
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
from osgeo import gdal
from osgeo_utils.samples.validate_cloud_optimized_geotiff import validate

import cloudio
from cloudio import cloud_storage, map_tiles, read_tiles, read_window
from conftest import ROOT, every_tile, start_server
from test_storage import GT, fails_soon, free_port, local_dem, silent_endpoint, slope  # noqa: F401  (local_dem is a fixture)

AZURITE = os.path.join(ROOT, ".tools", "azurite", "node_modules", ".bin", "azurite-blob")
# Azurite's one account and its published development key.
ACCOUNT = "devstoreaccount1"
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


class Azurite:
    def __init__(self, data):
        self.data, self.port = str(data), free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}/{ACCOUNT}"
        self.proc = None

    def start(self):
        self.proc = start_server(
            [AZURITE, "--blobHost", "127.0.0.1", "--blobPort", str(self.port), "--location", self.data,
             "--silent", "--skipApiVersionCheck", "--loose", "--disableTelemetry"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(self.endpoint + "?comp=list", timeout=2)
                return
            except urllib.error.HTTPError:
                return  # answering (unsigned requests are refused): up
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"Azurite did not come up on port {self.port}")
                time.sleep(0.2)

    def stop(self):
        self.proc.terminate()
        self.proc.wait()

    def connection_string(self, key=KEY):
        return (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={key};"
                f"BlobEndpoint={self.endpoint};")

    def options(self, key=KEY):
        return dict(AZURE_STORAGE_CONNECTION_STRING=self.connection_string(key))

    def create_containers(self, *names):
        """Through GDAL's VSIMkdir, in a child so that the credentials stay
        out of this process's configuration."""
        code = "import sys; from osgeo import gdal; sys.exit(any(gdal.Mkdir('/vsiaz/' + c, 0o755) for c in sys.argv[1:]))"
        subprocess.run([sys.executable, "-c", code, *names], check=True, timeout=60,
                       env=dict(os.environ, AZURE_STORAGE_CONNECTION_STRING=self.connection_string()))


@pytest.fixture(scope="module")
def azurite(tmp_path_factory):
    server = Azurite(tmp_path_factory.mktemp("azurite"))
    server.start()
    server.create_containers("dems", "results")
    yield server
    server.stop()


def test_azure_round_trip(azurite, local_dem):
    path, data = local_dem
    store = cloud_storage("az://dems", mode="w", replace=True, **azurite.options())
    assert store.exists()  # the container, seen with its own credentials
    url = store.write_cog(path, "alps/dem.tif")
    assert url == "az://dems/alps/dem.tif"
    assert store.exists("alps/dem.tif") and not store.exists("alps/other.tif")
    assert store.list() == ["alps/dem.tif"] and store.list("alps") == ["dem.tif"]
    for win, tile in every_tile(read_tiles(url, 256, 300), data.shape, 256, 300):
        np.testing.assert_array_equal(tile, data[win.slices])
    # GDAL's own reader (the same libgdal, so the same per-container options)
    # sees a valid COG with its georeferencing.
    ds = gdal.Open("/vsiaz/dems/alps/dem.tif")
    assert ds.GetGeoTransform() == GT and ds.GetRasterBand(1).GetNoDataValue() == -9999
    assert ds.GetSpatialRef().GetAuthorityCode(None) == "32633"
    warnings, errors, _ = validate(ds, full_check=True)
    assert errors == [] and warnings == []
    ds = None
    assert cloudio.validate(url, full_check=True) == (True, (), ()) and cloudio.info(url)["cog"]
    assert float(store.dask("alps/dem.tif", 512, 512).sum(dtype=np.float64).compute()) == \
        pytest.approx(float(data.astype(np.float64).sum()))
    store.delete("alps/dem.tif")
    assert not store.exists("alps/dem.tif") and store.list() == []
    with pytest.raises(FileNotFoundError):
        store.delete("alps/dem.tif")


def test_azure_map_tiles_container_to_container(azurite, local_dem):
    path, data = local_dem
    dems = cloud_storage("az://dems", mode="w", replace=True, **azurite.options())
    results = cloud_storage("az://results", mode="w", replace=True, **azurite.options())
    src = dems.write_cog(path, "src.tif")
    out = map_tiles(src, slope, results.url("slope.tif"), tile_rows=400, tile_cols=300, halo=1)
    assert out == "az://results/slope.tif" and results.list() == ["slope.tif"]
    np.testing.assert_array_equal(read_window(out, (0, 0, 1100, 900)), slope(np.pad(data, 1, mode="edge")))
    dems.delete("src.tif")
    results.delete("slope.tif")


def test_azure_account_key_and_endpoint_options(azurite, local_dem):
    """GDAL's other way to reach an emulator: account, key and endpoint."""
    path, data = local_dem
    store = cloud_storage("az://results", mode="w", replace=True, AZURE_STORAGE_ACCOUNT=ACCOUNT, AZURE_STORAGE_ACCESS_KEY=KEY,
                          CPL_AZURE_ENDPOINT=azurite.endpoint, CPL_AZURE_USE_HTTPS=False)
    assert KEY not in repr(store) and "AZURE_STORAGE_ACCESS_KEY': '***'" in repr(store)
    store.write_cog(data[:300, :200], "small.tif", geotransform=GT, crs=32633)
    np.testing.assert_array_equal(read_window(store.url("small.tif"), (0, 0, 300, 200)), data[:300, :200])
    store.delete("small.tif")


def test_azure_wrong_key_never_shows_a_key(azurite, local_dem):
    path, _ = local_dem
    good = cloud_storage("az://dems", mode="w", replace=True, **azurite.options())
    good.write_cog(path, "private.tif")
    wrong_key = "V3JvbmdLZXlXcm9uZ0tleVdyb25nS2V5V3JvbmdLZXlXcm9uZ0tleVdyb25nS2V5V3Jvbmc="
    bad = cloud_storage("az://dems", mode="w", replace=True, **azurite.options(key=wrong_key))
    assert wrong_key not in repr(bad) and "***" in repr(bad)
    for attempt in (bad.list, lambda: list(bad.read_tiles("private.tif")),
                    lambda: bad.write_cog(path, "other.tif"), lambda: bad.delete("private.tif")):
        with pytest.raises(cloudio.CloudIOError) as info:
            attempt()
        # refused, which is not the same as missing
        assert not isinstance(info.value, FileNotFoundError), info.value
        assert wrong_key not in str(info.value) and KEY not in str(info.value)
    with pytest.raises(cloudio.ReadWriteError, match="refused") as info:
        bad.exists()
    assert wrong_key not in str(info.value) and KEY not in str(info.value)
    good = cloud_storage("az://dems", mode="w", replace=True, **azurite.options())
    assert good.list() == ["private.tif"]
    good.delete("private.tif")


def test_azure_sas_signature_never_reaches_a_message(azurite):
    """A blob URL signed with a SAS, whose sig= parameter is the secret: the blob is refused
    or missing, and the message names the URL with the signature masked."""
    signature = "c2FzLXNpZ25hdHVyZS0zYjlk"
    url = f"{azurite.endpoint}/dems/no-such.tif?sv=2021-08-06&sr=b&sp=r&sig={signature}"
    for attempt in (lambda: read_window(url, (0, 0, 1, 1)), lambda: list(read_tiles(url, 256, 256))):
        with pytest.raises(cloudio.CloudIOError) as info:
            attempt()
        message = str(info.value)
        assert "no-such.tif" in message and "sig=***" in message and signature not in message, message


def test_azure_missing_container_is_not_found(azurite, local_dem):
    path, _ = local_dem
    store = cloud_storage("az://no-such-container", mode="w", replace=True, **azurite.options())
    with pytest.raises(cloudio.NotFoundError, match="no-such-container"):
        store.write_cog(path, "x.tif")
    with pytest.raises(cloudio.NotFoundError):
        list(store.read_tiles("x.tif"))
    with pytest.raises(cloudio.NotFoundError):
        store.list()
    assert not store.exists("x.tif") and not store.exists()


def test_azure_unreachable_endpoint_fails_in_bounded_time(local_dem):
    """Nothing listens on the port: every call fails soon, with a clear
    error and no key in it."""
    path, _ = local_dem
    endpoint = f"http://127.0.0.1:{free_port()}/{ACCOUNT}"
    store = cloud_storage("az://dems", mode="w", replace=True, AZURE_STORAGE_CONNECTION_STRING=(
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};BlobEndpoint={endpoint};"))
    t0 = time.time()
    for attempt in (store.list, lambda: list(store.read_tiles("x.tif")), lambda: store.write_cog(path, "x.tif"),
                    store.exists):
        with pytest.raises(cloudio.CloudIOError) as info:
            attempt()
        assert KEY not in str(info.value)
    assert time.time() - t0 < 60


def test_azure_silent_endpoint_fails_within_the_store_timeout(local_dem):
    """A server that takes connections and never answers: every call gives
    up after the store's GDAL_HTTP_TIMEOUT (see test_storage's S3 twin)."""
    with silent_endpoint() as endpoint:
        store = cloud_storage("az://dems", mode="w", replace=True, GDAL_HTTP_TIMEOUT=2, GDAL_HTTP_MAX_RETRY=0,
                              AZURE_STORAGE_CONNECTION_STRING=(f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};"
                                                               f"AccountKey={KEY};BlobEndpoint=http://{endpoint}/{ACCOUNT};"))
        messages = fails_soon([store.list, lambda: list(store.read_tiles("x.tif")), lambda: store.exists("x.tif"),
                               store.exists, lambda: store.write_cog(local_dem[0], "x.tif")])
        assert not any(KEY in m for m in messages)


@pytest.mark.servers
def test_azure_failed_upload_leaves_no_blob(tmp_path, monkeypatch):
    """GDAL 3.6 streams a file written to /vsiaz/ into an append blob, which
    is visible, and stays partial, from its first block on; cloudio uploads
    a block blob, committed only once every block arrived. The server is
    frozen in the middle of the upload, so that the client times out, then
    thawed with everything it stored: no blob may be left at the key."""
    # cloudio's own upload takes the store's timeouts. GDAL 3.6 applies
    # only the global ones to /vsiaz/ uploads, not the per-container ones
    # cloud_storage sets (it would wait forever without these).
    monkeypatch.setenv("GDAL_HTTP_TIMEOUT", "3")
    monkeypatch.setenv("GDAL_HTTP_MAX_RETRY", "0")
    server = Azurite(tmp_path / "azurite")
    server.start()
    try:
        server.create_containers("dems")
        store = cloud_storage("az://dems", mode="w", replace=True, GDAL_HTTP_TIMEOUT=3, GDAL_HTTP_MAX_RETRY=0,
                              **server.options())
        big = np.random.default_rng(1).random((3000, 3000), dtype=np.float32)  # 36 MB, incompressible
        stop_watching = threading.Event()

        def freeze_once_data_arrives():
            while not stop_watching.wait(0.01):
                stored = sum(f.stat().st_size for f in (tmp_path / "azurite").rglob("*") if f.is_file())
                if stored > 4 << 20:
                    os.kill(server.proc.pid, signal.SIGSTOP)
                    return
        watcher = threading.Thread(target=freeze_once_data_arrives)
        watcher.start()
        try:
            with pytest.raises(cloudio.ReadWriteError):
                store.write_cog(big, "big.tif")
        finally:
            stop_watching.set()
            watcher.join()
            os.kill(server.proc.pid, signal.SIGCONT)
        assert not store.exists("big.tif") and store.list() == []
    finally:
        server.stop()


@pytest.mark.parametrize("how", ["connection string", "account and key"])
def test_azure_cogs_are_streamed_not_staged(azurite, how):
    """write_cog and map_tiles to a blob upload the COG as it is encoded: a
    child whose files may not exceed 64 KiB writes 4 MB COGs, which
    validate and hold the cells."""
    options = azurite.options() if how == "connection string" else dict(
        AZURE_STORAGE_ACCOUNT=ACCOUNT, AZURE_STORAGE_ACCESS_KEY=KEY, CPL_AZURE_ENDPOINT=azurite.endpoint,
        CPL_AZURE_USE_HTTPS=False)
    code = f"""
import resource
import numpy as np, cloudio
from osgeo import gdal
from osgeo_utils.samples.validate_cloud_optimized_geotiff import validate
data = np.random.default_rng(3).random((1000, 1100), dtype=np.float32)
store = cloudio.cloud_storage("az://results", mode="w", replace=True, **{options!r})
resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))
url = store.write_cog(data, "streamed.tif", geotransform={GT!r}, crs=32633)
cloudio.map_tiles(url, lambda t: t * 2, store.url("doubled.tif"), tile_rows=300, tile_cols=512)
for name, want in (("streamed.tif", data), ("doubled.tif", data * 2)):
    assert np.array_equal(cloudio.read_window(store.url(name), (0, 0, 1000, 1100)), want), name
    assert gdal.VSIStatL("/vsiaz/results/" + name).size > 4 * 65536, name
    _, errors, _ = validate("/vsiaz/results/" + name, full_check=True)
    assert not errors, (name, errors)
    store.delete(name)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                            env=dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python")))
    assert result.returncode == 0, result.stdout + result.stderr
