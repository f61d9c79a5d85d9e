"""The cloudio command line (python -m cloudio), run as users run it: in a
child process, reading its exit status, stdout and stderr."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import GT, python_env, sample, validate_cog
from osgeo import gdal

import cloudio


def cli(*args, cwd=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "cloudio", *map(str, args)], capture_output=True, text=True,
                          env=python_env(), cwd=cwd, timeout=timeout)


def one_line_error(result, *needles):
    """A failure: exit 1, one line on stderr naming the problem, no traceback."""
    assert result.returncode == 1, result
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("cloudio ") and "error:" in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture(scope="module")
def dem(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    z = sample(np.float32, (900, 1100))
    src = str(d / "src.tif")
    gdal.Translate(src, gdal.Open(cloudio.write_cog(z, str(d / "tmp.tif"), geotransform=GT, crs=32633,
                                                     nodata=-9999, statistics=False)),
                   format="GTiff")  # striped, no overviews, no statistics
    os.remove(d / "tmp.tif")
    return src, z


def test_help_reads_well():
    top = cli("--help")
    assert top.returncode == 0 and all(c in top.stdout for c in ("cog", "validate", "info", "tiles", "zarr"))
    assert "--storage" in top.stdout and "environment" in top.stdout
    for command in ("cog", "validate", "info", "tiles", "zarr"):
        result = cli(command, "--help")
        assert result.returncode == 0 and f"usage: cloudio {command}" in result.stdout and "example:" in result.stdout
    assert cli("--version").stdout.strip() == f"cloudio {cloudio.__version__}"
    assert cli().returncode == 2  # no subcommand: usage


def test_cog(dem, tmp_path):
    src, z = dem
    dst = tmp_path / "out.tif"
    result = cli("cog", src, dst, "--compress", "zstd", "--blocksize", "256", "--overview-resampling", "nearest",
                 "--co", "LEVEL=9")  # the options are checked by the library
    assert result.returncode == 0 and result.stdout.strip() == str(dst) and result.stderr == "", result
    validate_cog(dst)
    about = cloudio.info(dst)
    assert about["block"] == [256, 256] and about["compress"] == "ZSTD" and about["band_info"][0]["statistics"]
    np.testing.assert_array_equal(gdal.Open(str(dst)).ReadAsArray(), z)
    quiet = cli("cog", src, tmp_path / "quiet.tif", "--quiet", "--no-statistics")
    assert quiet.returncode == 0 and quiet.stdout == quiet.stderr == ""
    assert cloudio.info(tmp_path / "quiet.tif")["band_info"][0]["statistics"] is None


def test_cog_progress(dem, tmp_path):
    src, _ = dem
    result = cli("cog", src, tmp_path / "p.tif", "--progress")
    assert result.returncode == 0
    assert "100.0%" in result.stderr or "1000/1000" in result.stderr  # a text line, or tqdm's bar
    assert cli("cog", src, tmp_path / "q.tif", "--progress", "--quiet").stderr == ""


def test_cog_failures_leave_nothing(dem, tmp_path):
    src, _ = dem
    one_line_error(cli("cog", src, tmp_path / "x.tif", "--compress", "bogus"), 'unknown compress "BOGUS"')
    one_line_error(cli("cog", src, tmp_path / "x.tif", "--co", "BLOCKSIZE=abc"), "BLOCKSIZE")
    one_line_error(cli("cog", tmp_path / "missing.tif", tmp_path / "x.tif"), "missing.tif")
    one_line_error(cli("cog", src, tmp_path / "no" / "dir" / "x.tif"), "no/dir")
    usage = cli("cog", src, tmp_path / "x.tif", "--blocksize", "0")
    assert usage.returncode == 2 and "--blocksize" in usage.stderr
    debug = cli("cog", src, tmp_path / "x.tif", "--compress", "bogus", "--debug")
    assert debug.returncode == 1 and "Traceback" in debug.stderr and debug.stderr.splitlines()[-1].startswith("cloudio cog")
    assert os.listdir(tmp_path) == []


def test_cog_interrupted(tmp_path):
    # 64 MB of noise (test_memory.py's children inherit this process's peak RSS: keep it low)
    noise = np.random.default_rng(0).random((4000, 4000), dtype=np.float32)
    big = cloudio.write_cog(noise, tmp_path / "big.tif", "none", statistics=False)
    del noise
    dst = tmp_path / "out.tif"
    proc = subprocess.Popen([sys.executable, "-m", "cloudio", "cog", big, dst, "--progress", "--compress", "lzma"],
                            stderr=subprocess.PIPE, text=True, env=python_env())
    assert proc.stderr.read(1)  # the first progress report: the write is under way
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err
    assert sorted(os.listdir(tmp_path)) == ["big.tif"]


def test_validate(dem, tmp_path):
    src, _ = dem
    cog = cli("cog", src, tmp_path / "cog.tif", "--quiet")
    assert cog.returncode == 0
    good = cli("validate", tmp_path / "cog.tif")
    assert good.returncode == 0 and good.stdout == f"{tmp_path / 'cog.tif'}: valid COG\n"
    bad = cli("validate", tmp_path / "cog.tif", src)
    assert bad.returncode == 1
    assert f"{src}: NOT a valid COG\n  error: The file is greater than 512xH or Wx512, but is not tiled\n" in bad.stdout
    tiled = str(tmp_path / "tiled.tif")
    gdal.Translate(tiled, src, creationOptions=["TILED=YES"])  # tiled, no overviews: a warning only
    lenient, strict = cli("validate", tiled), cli("validate", tiled, "--strict")
    assert lenient.returncode == 0 and "valid COG, with warnings" in lenient.stdout and "warning:" in lenient.stdout
    assert strict.returncode == 1 and strict.stdout == lenient.stdout
    missing = cli("validate", tmp_path / "missing.tif", tmp_path / "cog.tif")
    assert missing.returncode == 1 and "missing.tif" in missing.stderr and "does not exist" in missing.stderr
    assert "cog.tif: valid COG" in missing.stdout  # the other paths are still checked
    quiet = cli("validate", "-q", src)
    assert quiet.returncode == 1 and quiet.stdout == quiet.stderr == ""
    assert cli("validate").returncode == 2


def test_info(dem, tmp_path):
    src, _ = dem
    cli("cog", src, tmp_path / "cog.tif", "--quiet")
    text = cli("info", tmp_path / "cog.tif")
    assert text.returncode == 0, text
    lines = text.stdout.splitlines()
    assert lines[0] == f"{tmp_path / 'cog.tif'}: GTiff, 900 rows x 1100 cols, 1 band of float32"
    assert any("EPSG:32633" in line for line in lines) and any(line.split()[:2] == ["cog", "yes"] for line in lines)
    assert any(line.strip().startswith("band 1") and "mean" in line for line in lines)
    as_json = cli("info", tmp_path / "cog.tif", "--json")
    got, want = json.loads(as_json.stdout), cloudio.info(tmp_path / "cog.tif")
    # GDAL's WKT of one CRS varies with what the process did before (DATUM or ENSEMBLE)
    assert as_json.returncode == 0 and got.pop("crs")["epsg"] == want.pop("crs")["epsg"] == 32633 and got == want
    one_line_error(cli("info", tmp_path / "missing.tif"), "missing.tif")
    (tmp_path / "notes.txt").write_text("not a raster")
    one_line_error(cli("info", tmp_path / "notes.txt"), "notes.txt")


def test_tiles(dem):
    src, _ = dem
    result = cli("tiles", src, "--tile-rows", "400", "--tile-cols", "500", "--overlap", "16")
    want = list(cloudio.tile_windows(src, 400, 500, 16))
    assert result.returncode == 0 and result.stdout.splitlines() == [str(tuple(w)) for w in want]
    as_json = cli("tiles", src, "--json")
    assert [json.loads(line) for line in as_json.stdout.splitlines()] == [[0, 0, 900, 1024], [0, 1024, 900, 76]]
    assert cli("tiles", src, "--tile-rows", "-1").returncode == 2
    one_line_error(cli("tiles", "missing.tif"), "missing.tif")


def test_tiles_into_a_closed_pipe(dem):
    src, _ = dem
    head = subprocess.run(f"{sys.executable} -m cloudio tiles {src} --tile-rows 1 --tile-cols 1 | head -2",
                          shell=True, capture_output=True, text=True, env=python_env(), timeout=120)
    assert head.stdout.splitlines() == ["(0, 0, 1, 1)", "(0, 1, 1, 1)"] and "Traceback" not in head.stderr


def test_zarr(dem, tmp_path):
    src, z = dem
    dst = tmp_path / "dem.zarr"
    result = cli("zarr", src, dst, "--chunks", "300", "400", "--compress", "zlib")
    assert result.returncode == 0 and result.stdout.strip() == str(dst), result
    np.testing.assert_array_equal(cloudio.read_window(dst, (0, 0, 900, 1100)), z)
    one_line_error(cli("zarr", src, tmp_path / "bad.zarr", "--compress", "bogus"), "BOGUS")
    assert cli("zarr", src, tmp_path / "bad.zarr", "--chunks", "1", "2", "3").returncode == 1
    assert sorted(os.listdir(tmp_path)) == ["dem.zarr"]


@pytest.mark.servers
def test_storage_options_reach_the_store_and_are_never_printed(dem, tmp_path_factory):
    from test_storage import SECRET, USER, start_minio
    src, z = dem
    server = start_minio(tmp_path_factory, "cli")
    try:
        base = ["--storage", f"AWS_S3_ENDPOINT=127.0.0.1:{server.port}", "--storage", "AWS_HTTPS=NO",
                "--storage", "AWS_VIRTUAL_HOSTING=NO", "--storage", f"AWS_ACCESS_KEY_ID={USER}"]
        ok = cli("cog", src, "s3://cli/dem.tif", *base, "--storage", f"AWS_SECRET_ACCESS_KEY={SECRET}")
        assert ok.returncode == 0, ok
        check = cli("validate", "s3://cli/dem.tif", *base, "--storage", f"AWS_SECRET_ACCESS_KEY={SECRET}")
        assert check.returncode == 0 and "valid COG" in check.stdout
        wrong = "wrong-secret-1f2e3d"
        for args in (("info", "s3://cli/dem.tif"), ("cog", src, "s3://cli/other.tif"),
                     ("info", "s3://cli/dem.tif", "--debug")):
            failed = cli(*args, *base, "--storage", f"AWS_SECRET_ACCESS_KEY={wrong}")
            assert failed.returncode == 1 and "error:" in failed.stderr
            assert wrong not in failed.stderr + failed.stdout and SECRET not in failed.stderr + failed.stdout
        malformed = cli("info", "s3://cli/dem.tif", "--storage", f"{wrong}")  # no KEY=: not echoed either
        assert malformed.returncode == 2 and wrong not in malformed.stderr and "KEY=VALUE" in malformed.stderr
        local = cli("info", src, "--storage", "AWS_HTTPS=NO")
        one_line_error(local, "--storage applies to URLs")
    finally:
        server.stop()
