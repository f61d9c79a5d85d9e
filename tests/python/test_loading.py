"""Loading the library, fork safety, errors, doctests, and independence
from the GDAL Python bindings."""
import doctest
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

import cloudio
from cloudio import _dask, _lib, cog, errors, storage, stream, windows

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(code, timeout=60, **env):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, env=dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"), **env))


@pytest.mark.parametrize("module", [windows, cog, stream, _dask, storage])
def test_doctests(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_version():
    assert cloudio.version().startswith(cloudio.__version__ + " (GDAL ")


def test_import_does_not_load_the_library():
    result = run("""
        import sys, cloudio, cloudio._lib as lib
        print("loaded" if lib._lib is not None else "lazy", "dask" in sys.modules)
    """)
    assert result.stdout.strip() == "lazy False", result.stderr  # nor is Dask imported


def test_forked_child_fails_fast_instead_of_hanging():
    result = run("""
        import os, sys, numpy as np, cloudio
        cloudio.version()                     # the Go runtime has started
        pid = os.fork()
        if pid == 0:
            try:
                list(cloudio.tile_windows(np.zeros((4, 4)), 2, 2))
                os._exit(0)
            except cloudio.CloudIOError as e:
                os._exit(7 if "spawn" in str(e) else 8)
        _, status = os.waitpid(pid, 0)
        print("child", os.waitstatus_to_exitcode(status))
    """, timeout=30)
    assert result.stdout.strip() == "child 7", result.stdout + result.stderr


def test_child_forked_before_loading_can_use_the_library():
    result = run("""
        import os, numpy as np, cloudio
        pid = os.fork()
        if pid == 0:
            n = len(list(cloudio.tile_windows(np.zeros((4, 4)), 2, 2)))
            os._exit(0 if n == 4 else 1)
        _, status = os.waitpid(pid, 0)
        print("child", os.waitstatus_to_exitcode(status))
    """, timeout=30)
    assert result.stdout.strip() == "child 0", result.stdout + result.stderr


def test_spawned_processes_work(tmp_path):
    script = tmp_path / "spawned.py"
    script.write_text(textwrap.dedent("""
        import multiprocessing as mp, cloudio
        def count(n):
            return len(list(cloudio.tile_windows((n, n), 2, 2)))
        if __name__ == "__main__":
            cloudio.version()
            with mp.get_context("spawn").Pool(2) as pool:
                print(pool.map(count, [4, 6]))
    """))
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60,
                            env=dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python")))
    assert result.stdout.strip() == "[4, 9]", result.stderr


def test_missing_library_says_how_to_build(tmp_path):
    shutil.copytree(os.path.join(ROOT, "python", "cloudio"), tmp_path / "cloudio",
                    ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    result = subprocess.run([sys.executable, "-c", "import cloudio; cloudio.version()"], capture_output=True,
                            text=True, env=dict(os.environ, PYTHONPATH=str(tmp_path),
                                                CLOUDIO_LIBRARY=str(tmp_path / "nope.so")), timeout=60)
    assert result.returncode != 0
    assert "ImportError" in result.stderr and "make" in result.stderr and "nope.so" in result.stderr


def test_library_from_environment_variable(tmp_path):
    shutil.copytree(os.path.join(ROOT, "python", "cloudio"), tmp_path / "cloudio",
                    ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    result = subprocess.run([sys.executable, "-c", "import cloudio; print(cloudio.version())"], capture_output=True,
                            text=True, env=dict(os.environ, PYTHONPATH=str(tmp_path),
                                                CLOUDIO_LIBRARY=os.path.join(ROOT, "build", "libcloudio.so")),
                            timeout=60)
    assert "GDAL" in result.stdout, result.stderr


@pytest.mark.parametrize("status,builtin", [(1, ValueError), (2, FileNotFoundError), (3, OSError),
                                           (4, RuntimeError), (5, RuntimeError), (99, RuntimeError)])
def test_errors_derive_from_builtins(status, builtin):
    err = errors.error_for(status, "message")
    assert isinstance(err, cloudio.CloudIOError) and isinstance(err, RuntimeError) and isinstance(err, builtin)
    assert err.status == status and str(err) == "message"
    assert err.status_name == _lib.library().cloudio_status_name(status).decode()


def test_without_gdal_python_bindings(tmp_path):
    """Paths and numpy arrays need no osgeo: the library is the only GDAL."""
    result = run(f"""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == "osgeo" or name.startswith("osgeo."):
                    raise ImportError("osgeo is blocked in this test")
        sys.meta_path.insert(0, Block())
        try:
            import osgeo
            sys.exit("osgeo was importable")
        except ImportError:
            pass
        import numpy as np, cloudio
        z = np.arange(600 * 500, dtype=np.float32).reshape(600, 500)
        a = cloudio.write_cog(z, {str(tmp_path / "a.tif")!r}, geotransform=(0, 1, 0, 0, 0, -1), crs=4326, nodata=-1)
        b = cloudio.write_cog(a, {str(tmp_path / "b.tif")!r}, compress="zstd")
        wins = list(cloudio.tile_windows(b, 256, 256))
        assert wins == list(cloudio.tile_windows(z, 256, 256)) and len(wins) == 6
        for w, tile in cloudio.read_tiles(b, 256, 256):
            assert (tile == z[w.slices]).all()
        print("ok", "osgeo" in sys.modules)
    """)
    assert result.stdout.strip() == "ok False", result.stdout + result.stderr


def test_pip_install_puts_the_library_in_the_package(tmp_path):
    """`pip install ./python` builds libcloudio into the package: the
    installed cloudio works from anywhere, with no checkout on its path."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    build = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--no-build-isolation", "--no-deps",
                            os.path.join(ROOT, "python")], capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stdout + build.stderr
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CLOUDIO_LIBRARY")}
    result = subprocess.run([str(venv / "bin" / "python"), "-c",
                             "import cloudio, os; print(os.path.dirname(cloudio._lib.candidates()[0])); "
                             "print(cloudio.version()); print(len(list(cloudio.tile_windows((10, 10), 3, 3))))"],
                            capture_output=True, text=True, cwd=str(tmp_path), env=env, timeout=60)
    lines = result.stdout.split()
    assert result.returncode == 0, result.stderr
    assert lines[0].startswith(str(venv)) and os.path.exists(os.path.join(lines[0], "libcloudio.so"))
    assert "GDAL" in result.stdout and lines[-1] == "16"
