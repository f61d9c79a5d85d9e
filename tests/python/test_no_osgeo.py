"""Paths and numpy arrays need no GDAL Python bindings: the library is the
only GDAL. Each test runs in a fresh interpreter where ``import osgeo``
fails, and the parent checks the files with osgeo afterwards."""
import os
import textwrap

import numpy as np
import pytest
from osgeo import gdal, osr

from conftest import python_env, run_python, sample, source_tif

BLOCK_WITH_META_PATH = """
    import sys
    class BlockOsgeo:
        def find_spec(self, name, path=None, target=None):
            if name == "osgeo" or name.startswith("osgeo."):
                raise ImportError("osgeo is blocked in this test")
    sys.meta_path.insert(0, BlockOsgeo())
"""

WORK = """
    import os, sys
    try:
        import osgeo
        sys.exit("osgeo was importable")
    except ImportError:
        pass
    import numpy as np, cloudio
    out = sys.argv[1]
    z = np.arange(600 * 500, dtype=np.float32).reshape(600, 500)
    a = cloudio.write_cog(z, os.path.join(out, "a.tif"), geotransform=(500000, 30, 0, 4500000, 0, -30),
                          crs=32633, nodata=-1)                                       # numpy array
    b = cloudio.write_cog(a, os.path.join(out, "b.tif"), compress="zstd")            # a path
    c = cloudio.write_cog(os.path.join(out, "src.tif"), os.path.join(out, "c.tif"))  # a GTiff from the parent
    wins = list(cloudio.tile_windows(b, 256, 256))                                    # size read by the library
    assert wins == list(cloudio.tile_windows(z, 256, 256)) and len(wins) == 6, wins
    assert list(cloudio.tile_windows(c, 100, 100)) == list(cloudio.tile_windows((40, 30), 100, 100))
    for attempt in (lambda: cloudio.tile_windows(os.path.join(out, "missing.tif")),
                    lambda: cloudio.read_window(os.path.join(out, "missing.tif"), (0, 0, 1, 1))):
        try:
            attempt()
            sys.exit("a missing file raised nothing")
        except FileNotFoundError as exc:
            assert "missing.tif" in str(exc), exc
    print("ok", "osgeo" in sys.modules, len(wins))
"""


def check_outputs(tmp_path, src_data):
    ds = gdal.Open(str(tmp_path / "a.tif"))
    z = np.arange(600 * 500, dtype=np.float32).reshape(600, 500)
    np.testing.assert_array_equal(ds.ReadAsArray(), z)
    assert ds.GetGeoTransform() == (500000, 30, 0, 4500000, 0, -30)
    want = osr.SpatialReference()
    want.ImportFromEPSG(32633)
    assert osr.SpatialReference(wkt=ds.GetProjection()).IsSame(want)
    band = ds.GetRasterBand(1)
    assert band.GetNoDataValue() == -1
    other = gdal.Open(str(tmp_path / "b.tif"))
    assert other.GetMetadata("IMAGE_STRUCTURE")["COMPRESSION"] == "ZSTD"
    np.testing.assert_array_equal(other.ReadAsArray(), z)
    src = gdal.Open(str(tmp_path / "c.tif"))
    np.testing.assert_array_equal(src.ReadAsArray(), src_data)


@pytest.mark.parametrize("how", ["meta_path", "shadow_package"])
def test_paths_and_arrays_without_osgeo(tmp_path, how):
    src_data = sample(np.int16, (40, 30))
    source_tif(tmp_path / "src.tif", src_data)
    if how == "meta_path":
        code, env = BLOCK_WITH_META_PATH + WORK, python_env()
    else:  # an osgeo package earlier on sys.path that fails to import, as a broken install would
        shadow = tmp_path / "shadow" / "osgeo"
        shadow.mkdir(parents=True)
        (shadow / "__init__.py").write_text('raise ImportError("no GDAL Python bindings here")\n')
        code = WORK
        env = python_env(PYTHONPATH=os.pathsep.join([str(tmp_path / "shadow"), python_env()["PYTHONPATH"]]))
    result = run_python(textwrap.dedent(code), env=env, args=[str(tmp_path)], timeout=120)
    assert result.stdout.strip() == "ok False 6", result.stdout + result.stderr
    check_outputs(tmp_path, src_data)
    assert sorted(os.listdir(tmp_path)) == sorted(["a.tif", "b.tif", "c.tif", "src.tif"]
                                                  + (["shadow"] if how == "shadow_package" else []))
