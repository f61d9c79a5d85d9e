"""Errors for every status code; loading the library (lazily, once, from
where, with what prototypes); fork safety; threads; packaging."""
import ctypes
import os
import pickle
import re
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import cloudio
from cloudio import _lib, errors
from conftest import PYTHON_DIR, ROOT, python_env, run_python

STATUSES = [(1, "CLOUDIO_ERR_INVALID_ARGUMENT", cloudio.InvalidArgumentError, ValueError),
            (2, "CLOUDIO_ERR_NOT_FOUND", cloudio.NotFoundError, FileNotFoundError),
            (3, "CLOUDIO_ERR_IO", cloudio.ReadWriteError, OSError),
            (4, "CLOUDIO_ERR_UNSUPPORTED", cloudio.UnsupportedError, RuntimeError),
            (5, "CLOUDIO_ERR_CANCELLED", cloudio.CancelledError, RuntimeError),
            (99, "CLOUDIO_ERR_INTERNAL", cloudio.InternalError, RuntimeError)]


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize("status,name,cls,builtin", STATUSES)
def test_every_status_code_has_its_exception(status, name, cls, builtin):
    err = errors.error_for(status, "the message")
    assert type(err) is cls
    assert isinstance(err, cloudio.CloudIOError) and isinstance(err, RuntimeError) and isinstance(err, builtin)
    assert err.status == status and err.status_name == name == _lib.status_name(status)
    assert str(err) == "the message"
    again = pickle.loads(pickle.dumps(err))  # crosses process boundaries (Dask, multiprocessing)
    assert type(again) is cls and str(again) == "the message" and again.status == status


def test_the_header_and_the_package_agree_on_status_codes():
    header = open(os.path.join(ROOT, "include", "cloudio.h")).read()
    codes = {name: int(value) for name, value in re.findall(r"(CLOUDIO_(?:OK|ERR_\w+))\s*=\s*(\d+)", header)}
    assert codes.pop("CLOUDIO_OK") == 0
    assert codes == {name: status for status, name, _, _ in STATUSES}


def test_unknown_status_is_a_plain_cloudio_error():
    err = errors.error_for(42, "odd")
    assert type(err) is cloudio.CloudIOError and err.status == 42
    assert _lib.status_name(42) == "CLOUDIO_ERR_UNKNOWN" == err.status_name


def test_only_bad_arguments_are_value_errors():
    assert not any(issubclass(cls, ValueError) for _, _, cls, _ in STATUSES[1:])
    assert not issubclass(cloudio.ReadWriteError, FileNotFoundError)


def test_everything_is_exported():
    for name in ("CloudIOError", "InvalidArgumentError", "NotFoundError", "ReadWriteError", "UnsupportedError",
                 "CancelledError", "InternalError", "LibraryLoadError", "TileWindow", "tile_windows", "write_cog",
                 "version", "__version__"):
        assert name in cloudio.__all__ and hasattr(cloudio, name), name
    assert issubclass(cloudio.LibraryLoadError, ImportError) and issubclass(cloudio.LibraryLoadError,
                                                                            cloudio.CloudIOError)


def test_errors_from_the_library_carry_its_message():
    with pytest.raises(cloudio.InvalidArgumentError) as info:
        _lib.call("cloudio_tile_windows", 5, 5, 0, 1, 0, 0, None, 0, ctypes.byref(ctypes.c_uint64()),
                  ctypes.byref(ctypes.c_uint64()))
    assert str(info.value) == "tile_rows and tile_cols must be positive"


def test_long_messages_are_truncated_to_the_buffer(tmp_path):
    """A message longer than the 1024-byte buffer is cut, never overflowed;
    a multi-byte character cut in half decodes as U+FFFD."""
    name = str(tmp_path / ("é" * 600 + ".tif"))  # 1200 bytes of UTF-8 in the path alone
    with pytest.raises(cloudio.CloudIOError) as info:
        cloudio.write_cog(name, str(tmp_path / "out.tif"))
    message = str(info.value)
    assert "éééé" in message and not message.endswith(".tif")
    assert 1000 < len(message.encode("utf-8")) <= _lib.ERR_LEN - 1 + 2  # a cut 'é' becomes 3-byte U+FFFD
    assert os.listdir(tmp_path) == []


def test_sizes_beyond_int64_are_value_errors_not_wrapped():
    """ctypes would silently wrap 2**64 + 4 to 4."""
    for shape in [(2**64 + 4, 4), (4, 2**63)]:
        with pytest.raises(ValueError, match="64-bit"):
            cloudio.tile_windows(shape, 2, 2)


# --- the library -------------------------------------------------------------------------------


def test_version():
    v = cloudio.version()
    assert v.startswith(cloudio.__version__ + " (GDAL ") and v.endswith(")")


def test_one_version_source():
    """VERSION is the version of every part: the library's cloudio_version() (Go), the header's
    CLOUDIO_VERSION, the Python package, the pkg-config file (and setup.py reads it)."""
    with open(os.path.join(ROOT, "VERSION")) as f:
        version = f.read().strip()
    assert cloudio.__version__ == version
    assert cloudio.version().startswith(version + " (GDAL ")
    with open(os.path.join(ROOT, "include", "cloudio.h")) as f:
        assert f'#define CLOUDIO_VERSION "{version}"' in f.read()
    with open(os.path.join(ROOT, "build", "cloudio.pc")) as f:
        assert f"Version: {version}" in f.read().splitlines()


def test_abi_version():
    assert _lib.library().cloudio_abi_version() == _lib.ABI_VERSION == 1


def test_every_header_function_has_a_prototype():
    """argtypes/restype for every function cloudio.h declares, no more."""
    header = open(os.path.join(ROOT, "include", "cloudio.h")).read()
    header = re.sub(r"/\*.*?\*/", "", header, flags=re.S)
    declared = set(re.findall(r"\b(cloudio_\w+)\s*\(", header)) - {"cloudio_progress_fn"}
    assert declared == set(_lib._PROTOTYPES)
    lib = _lib.library()
    for name in declared:
        fn = getattr(lib, name)
        assert fn.argtypes is not None, name
        restype = _lib._PROTOTYPES[name][0]
        assert fn.restype == restype, name


def test_the_library_exports_only_the_header_functions():
    """A version script keeps godal's helpers, cloudio's internal C
    functions, the Go runtime and C++ symbols out of the dynamic table."""
    header = re.sub(r"/\*.*?\*/", "", open(os.path.join(ROOT, "include", "cloudio.h")).read(), flags=re.S)
    declared = set(re.findall(r"\b(cloudio_\w+)\s*\(", header)) - {"cloudio_progress_fn"}
    out = subprocess.run(["nm", "-D", "--defined-only", os.path.join(ROOT, "build", "libcloudio.so")],
                         capture_output=True, text=True, check=True).stdout
    exported = {line.split()[-1] for line in out.splitlines() if line.strip()}
    assert exported == declared


def test_prototypes_match_the_header_arity():
    header = re.sub(r"/\*.*?\*/", "", open(os.path.join(ROOT, "include", "cloudio.h")).read(), flags=re.S)
    for name, params in re.findall(r"\b(cloudio_\w+)\s*\(([^)]*)\)\s*;", header):
        count = 0 if params.strip() in ("", "void") else params.count(",") + 1
        assert len(_lib._PROTOTYPES[name][1]) == count, name


def test_import_does_not_load_the_library():
    result = run_python("""
        import sys, cloudio, cloudio._lib as lib
        print("loaded" if lib._lib is not None else "lazy")
        cloudio.TileWindow(0, 0, 1, 1).gdal
        print("loaded" if lib._lib is not None else "lazy")
        cloudio.version()
        print("loaded" if lib._lib is not None else "lazy")
    """)
    assert result.stdout.split() == ["lazy", "lazy", "loaded"], result.stderr


def test_first_use_from_many_threads_loads_once():
    result = run_python("""
        import ctypes, threading, cloudio, cloudio._lib as lib
        loads, real = [], lib._load
        def counting():
            loads.append(1)
            return real()
        lib._load = counting
        barrier = threading.Barrier(16)
        out = []
        def work():
            barrier.wait()
            out.append(cloudio.version())
        threads = [threading.Thread(target=work) for _ in range(16)]
        [t.start() for t in threads]; [t.join() for t in threads]
        print(len(loads), len(out), len(set(out)))
    """)
    assert result.stdout.split() == ["1", "16", "1"], result.stderr


def test_search_order():
    paths = _lib.candidates()
    package = os.path.join(PYTHON_DIR, "cloudio")
    assert [str(p) for p in paths[:2]] == [os.path.join(package, "libcloudio.so"),
                                           os.path.join(ROOT, "build", "libcloudio.so")]


def copy_package(tmp_path):
    """The package without any library next to it, away from the checkout."""
    shutil.copytree(os.path.join(PYTHON_DIR, "cloudio"), tmp_path / "cloudio",
                    ignore=shutil.ignore_patterns("*.so", "*.h", "__pycache__"))
    return str(tmp_path)


def test_missing_library_says_how_to_build_it(tmp_path):
    env = python_env(PYTHONPATH=copy_package(tmp_path), CLOUDIO_LIBRARY=str(tmp_path / "nope.so"))
    result = run_python("""
        import numpy as np, cloudio
        print("imported")
        try:
            list(cloudio.tile_windows(np.zeros((4, 4)), 2, 2))
        except ImportError as e:
            print(type(e).__name__, isinstance(e, cloudio.CloudIOError))
            print(e)
        cloudio.version()
    """, env=env)
    lines = result.stdout.splitlines()
    assert lines[:2] == ["imported", "LibraryLoadError True"], result.stdout + result.stderr
    message = lines[2]
    assert "make" in message and "pip install ./python" in message and "nope.so" in message
    assert result.returncode != 0 and "LibraryLoadError" in result.stderr


def test_library_from_the_environment_variable(tmp_path):
    env = python_env(PYTHONPATH=copy_package(tmp_path), CLOUDIO_LIBRARY=os.path.join(ROOT, "build", "libcloudio.so"))
    result = run_python("import cloudio; print(cloudio.version())", env=env)
    assert result.returncode == 0 and "GDAL" in result.stdout, result.stderr


def build_fake_library(tmp_path, source):
    c = tmp_path / "fake.c"
    c.write_text(source)
    so = tmp_path / "libfake.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(so), str(c)], check=True, capture_output=True)
    return str(so)


@pytest.mark.parametrize("source,expected", [
    ("int cloudio_abi_version(void) { return 2; }", "ABI 2"),
    ("int cloudio_abi_version(void) { return 1; }", "lacks cloudio_"),
])
def test_incompatible_library_is_refused(tmp_path, source, expected):
    env = python_env(PYTHONPATH=copy_package(tmp_path), CLOUDIO_LIBRARY=build_fake_library(tmp_path, source))
    result = run_python("""
        import cloudio
        try:
            cloudio.version()
        except cloudio.LibraryLoadError as e:
            print(e)
    """, env=env)
    assert expected in result.stdout and "make" in result.stdout, result.stdout + result.stderr


# --- fork safety -------------------------------------------------------------------------------


def test_child_forked_after_loading_fails_fast_instead_of_hanging():
    result = run_python("""
        import os, select, sys, time, numpy as np, cloudio
        cloudio.version()                                   # the Go runtime has started
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            start = time.monotonic()
            try:
                list(cloudio.tile_windows(np.zeros((4, 4)), 2, 2))
                verdict = "no error"
            except cloudio.CloudIOError as e:
                verdict = f"{type(e).__name__} spawn={'spawn' in str(e)} fork={'fork' in str(e)}"
            os.write(w, f"{verdict} {time.monotonic() - start < 1}".encode())
            os._exit(0)
        os.close(w)
        ready, _, _ = select.select([r], [], [], 20)
        if not ready:
            os.kill(pid, 9)
            print("child hung")
        else:
            print(os.read(r, 200).decode())
        os.waitpid(pid, 0)
    """, timeout=60)
    assert result.stdout.strip() == "CloudIOError spawn=True fork=True True", result.stdout + result.stderr


def test_reprs_in_a_forked_child_mask_every_option_value():
    """The library says which options are secrets and scrubs URLs; in a child forked after it
    was loaded it cannot answer, so a repr made there masks every value and the prefix."""
    result = run_python("""
        import os, cloudio
        from cloudio._store_options import StoreAccess
        store = cloudio.cloud_storage("https://reader:url-pass-91@example.com/forked",
                                      AWS_REGION="eu-forked-1", GDAL_HTTP_USERPWD="reader:userpwd-92")
        access = StoreAccess(store.prefix, (("AWS_REGION", "eu-forked-1"), ("GDAL_HTTP_USERPWD", "reader:userpwd-92")))
        print(repr(store)); print(repr(access))
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.write(w, (repr(store) + "\\n" + repr(access)).encode())
            os._exit(0)
        os.close(w)
        os.waitpid(pid, 0)
        print(os.read(r, 4000).decode())
    """, timeout=60)
    parent_store, parent_access, child_store, child_access = result.stdout.splitlines()
    assert "eu-forked-1" in parent_store and "eu-forked-1" in parent_access  # not a secret: shown
    assert "http://***@" not in parent_store and "https://***@example.com/forked/" in parent_store
    for line in (parent_store, parent_access, child_store, child_access):
        assert "url-pass-91" not in line and "userpwd-92" not in line, line
    assert child_store == "Store('***', mode='r', options={'AWS_REGION': '***', 'GDAL_HTTP_USERPWD': '***'})"
    assert child_access == "StoreAccess('***', (('AWS_REGION', '***'), ('GDAL_HTTP_USERPWD', '***')))"


def test_every_entry_point_refuses_in_a_forked_child(tmp_path):
    result = run_python(f"""
        import os, numpy as np, cloudio
        cloudio.version()
        pid = os.fork()
        if pid == 0:
            failures = 0
            for call in (cloudio.version,
                         lambda: cloudio.write_cog(np.zeros((4, 4), np.float32), {str(tmp_path / "x.tif")!r}),
                         lambda: cloudio.tile_windows({str(tmp_path / "x.tif")!r})):
                try:
                    call()
                except cloudio.CloudIOError:
                    failures += 1
            os._exit(failures)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status))
    """, timeout=60)
    assert result.stdout.strip() == "3", result.stdout + result.stderr
    assert os.listdir(tmp_path) == []


def test_process_pool_with_fork_gets_an_error_not_a_hang():
    result = run_python("""
        import multiprocessing as mp, numpy as np, cloudio
        from concurrent.futures import ProcessPoolExecutor
        def count(n):
            return len(list(cloudio.tile_windows(np.zeros((n, n)), 2, 2)))
        if __name__ == "__main__":
            cloudio.version()
            with ProcessPoolExecutor(2, mp_context=mp.get_context("fork")) as pool:
                try:
                    print(pool.submit(count, 4).result(timeout=30))
                except cloudio.CloudIOError as e:
                    print("CloudIOError", "spawn" in str(e))
    """, timeout=90)
    assert result.stdout.strip() == "CloudIOError True", result.stdout + result.stderr


def test_child_forked_before_loading_can_use_the_library():
    result = run_python("""
        import os, numpy as np, cloudio
        pid = os.fork()
        if pid == 0:
            n = len(list(cloudio.tile_windows(np.zeros((4, 4)), 2, 2)))
            os._exit(0 if n == 4 else 1)
        _, status = os.waitpid(pid, 0)
        print("child", os.waitstatus_to_exitcode(status))
        print(len(list(cloudio.tile_windows(np.zeros((4, 4)), 2, 2))))  # and the parent after it
    """, timeout=60)
    assert result.stdout.split() == ["child", "0", "4"], result.stdout + result.stderr


def test_spawned_workers_work(tmp_path):
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
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=90,
                            env=python_env())
    assert result.stdout.strip() == "[4, 9]", result.stderr


# --- threads -----------------------------------------------------------------------------------


def test_eight_threads_write_at_once(tmp_path):
    """ctypes releases the GIL: eight writes run together and all succeed."""
    result = run_python(f"""
        import os, threading, numpy as np, cloudio
        from osgeo import gdal
        barrier = threading.Barrier(8)
        failures = []
        def work(i):
            data = np.random.default_rng(i).random((600, 700), dtype=np.float32)
            barrier.wait()
            try:
                out = cloudio.write_cog(data, os.path.join({str(tmp_path)!r}, f"t{{i}}.tif"), compress="zstd",
                                        geotransform=(0, 1, 0, 0, 0, -1), crs=4326, progress=lambda f: None)
                ds = gdal.Open(out)
                assert (ds.ReadAsArray() == data).all()
            except BaseException as e:
                failures.append(repr(e))
        threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
        [t.start() for t in threads]; [t.join() for t in threads]
        print(failures)
    """, timeout=120)
    assert result.stdout.strip() == "[]", result.stdout + result.stderr
    assert sorted(os.listdir(tmp_path)) == [f"t{i}.tif" for i in range(8)]


# --- paths -------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [42, None, 3.5, ["a.tif"]])
def test_paths_must_be_str_or_pathlike(bad):
    with pytest.raises(ValueError, match="path"):
        _lib.fspath(bad)


def test_paths_are_fs_encoded():
    assert _lib.fspath("a/b.tif") == b"a/b.tif"
    assert _lib.fspath(os.fsdecode(b"/tmp/\xff.tif")) == b"/tmp/\xff.tif"  # surrogateescape round trip
    import pathlib
    assert _lib.fspath(pathlib.Path("/x/y.tif")) == b"/x/y.tif"
    with pytest.raises(ValueError, match="NUL"):
        _lib.fspath("a\x00b")


def test_options_arrays():
    assert _lib.options_array(None) is None and _lib.options_array({}) is None
    arr = _lib.options_array({"BLOCKSIZE": 256, "SPARSE_OK": True, "X": False})
    assert [arr[i] for i in range(4)] == [b"BLOCKSIZE=256", b"SPARSE_OK=YES", b"X=NO", None]
    arr = _lib.options_array(iter(["A=1", "B=2"]))
    assert [arr[i] for i in range(3)] == [b"A=1", b"B=2", None]
    for bad in ("A=1", b"A=1", [1], 5):
        with pytest.raises(ValueError, match="options"):
            _lib.options_array(bad)


# --- packaging ---------------------------------------------------------------------------------


def test_pip_install_puts_the_library_in_the_package(tmp_path):
    """`pip install ./python` builds libcloudio into the package: the
    installed cloudio works from anywhere, with no checkout on its path."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    build = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--no-build-isolation", "--no-deps",
                            PYTHON_DIR], capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stdout + build.stderr
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CLOUDIO_LIBRARY")}
    result = subprocess.run([str(venv / "bin" / "python"), "-c", textwrap.dedent("""
        import os, cloudio, cloudio._lib as lib
        here = os.path.dirname(cloudio.__file__)
        print(here)
        print(sorted(f for f in os.listdir(here) if not f.endswith(".py") and f != "__pycache__"))
        print(cloudio.version())
        lib.library()
        print(len(list(cloudio.tile_windows((10, 10), 3, 3))))
    """)], capture_output=True, text=True, cwd=str(tmp_path), env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(str(venv))
    assert lines[1] == "['cloudio.h', 'libcloudio.so', 'py.typed']"
    assert "GDAL" in lines[2] and lines[3] == "16"
    # The console script: a COG from a raster, checked, and a one-line error.
    src = cloudio.write_cog(np.arange(600 * 700, dtype=np.float32).reshape(600, 700), str(tmp_path / "src.tif"))
    script = str(venv / "bin" / "cloudio")
    for args, status in [(["cog", src, str(tmp_path / "cog.tif"), "--quiet"], 0),
                         (["validate", str(tmp_path / "cog.tif")], 0), (["--version"], 0),
                         (["info", str(tmp_path / "missing.tif")], 1)]:
        run = subprocess.run([script, *args], capture_output=True, text=True, cwd=str(tmp_path), env=env, timeout=120)
        assert run.returncode == status and "Traceback" not in run.stderr, (args, run)
