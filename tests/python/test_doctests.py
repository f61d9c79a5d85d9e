"""The docstring examples of every cloudio module run, and the examples of
the original digitalrivers.cloud_io are among them, changed only in their
``from cloudio import ...`` line (pyramids: see conftest.py)."""
import doctest
import importlib
import inspect
import os
import pkgutil

import pytest

import cloudio

MODULES = sorted(name for _, name, _ in pkgutil.iter_modules(cloudio.__path__, "cloudio."))
# the modules whose docstrings must carry examples
WITH_EXAMPLES = {"cloudio.windows", "cloudio.cog", "cloudio.errors", "cloudio.tools"}


@pytest.mark.parametrize("name", ["cloudio"] + MODULES)
def test_module_doctests(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that would write to the working directory write here
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, report=True)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} failed (see output)"
    if name in WITH_EXAMPLES:
        assert result.attempted > 0
    assert os.listdir(tmp_path) == []


ORIGINAL_TILE_WINDOWS = '''
            >>> import numpy as np
            >>> from pyramids.dataset import Dataset
            >>> from cloudio import tile_windows
            >>> ds = Dataset.create_from_array(
            ...     np.zeros((5, 5), dtype=np.float32),
            ...     top_left_corner=(0, 0), cell_size=1.0, epsg=4326,
            ... )
            >>> windows = list(tile_windows(ds, tile_rows=3, tile_cols=3))
            >>> [(w[0], w[1], w[2], w[3]) for w in windows]
            [(0, 0, 3, 3), (0, 3, 3, 2), (3, 0, 2, 3), (3, 3, 2, 2)]
'''

ORIGINAL_WRITE_COG = '''
            >>> import numpy as np
            >>> from pyramids.dataset import Dataset
            >>> from cloudio import write_cog
            >>> import tempfile, os
            >>> arr = np.arange(25, dtype=np.float32).reshape(5, 5)
            >>> ds = Dataset.create_from_array(
            ...     arr, top_left_corner=(0, 0), cell_size=1.0, epsg=4326,
            ... )
            >>> with tempfile.TemporaryDirectory() as tmpdir:
            ...     out_path = os.path.join(tmpdir, "out.tif")
            ...     result = write_cog(ds, out_path)
            ...     os.path.exists(result)
            True
'''


@pytest.mark.parametrize("function,original", [(cloudio.tile_windows, ORIGINAL_TILE_WINDOWS),
                                               (cloudio.write_cog, ORIGINAL_WRITE_COG)])
def test_the_original_examples_are_kept(function, original):
    assert original in function.__doc__


def test_the_original_signatures_are_kept():
    params = inspect.signature(cloudio.tile_windows).parameters
    assert [(p.name, p.default) for p in params.values()] == [
        ("dataset", inspect.Parameter.empty), ("tile_rows", 1024), ("tile_cols", 1024), ("overlap", 0)]
    params = list(inspect.signature(cloudio.write_cog).parameters.values())
    assert [(p.name, p.default) for p in params[:3]] == [
        ("dataset", inspect.Parameter.empty), ("path", inspect.Parameter.empty), ("compress", "deflate")]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is None for p in params[3:])
