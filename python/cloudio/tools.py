"""Checking and describing rasters: :func:`validate` and :func:`info`."""
from __future__ import annotations

import ctypes
import json
from typing import Any, Dict, NamedTuple, Optional, Tuple

from . import _lib
from ._datasets import file_name, is_gdal_dataset, is_path, unwrap

#: full_check= of validate -> cloudio_validate_report's CLOUDIO_VALIDATE_*
_FULL_CHECK = {None: 0, True: 1, False: 2}


class Validation(NamedTuple):
    """GDAL's verdict on a Cloud-Optimised GeoTIFF, in the words of GDAL's
    own validator.

    ``errors`` make the file an invalid COG; ``warnings`` (a large file
    without internal overviews) do not. It unpacks like rio-cogeo's
    ``cog_validate``: ``valid, errors, warnings = validate(path)``, and is
    true exactly when the file is valid.
    """

    valid: bool
    errors: Tuple[str, ...]
    warnings: Tuple[str, ...]

    def __bool__(self) -> bool:
        return self.valid


def _file(dataset: Any, what: str) -> bytes:
    """The name of the file behind ``dataset`` (a path or URL, or a GDAL or
    pyramids dataset that has one)."""
    source = unwrap(dataset)
    if is_gdal_dataset(source):
        name = file_name(source)
        if name is None:
            raise ValueError(f"{what} needs a file, and this GDAL dataset lives only in memory: "
                             "write it with write_cog first")
        source = name
    if not is_path(source):
        raise ValueError(f"dataset must be a path or URL, or a GDAL or pyramids dataset, not {type(dataset).__name__}")
    return _lib.fspath(source, "dataset")


def validate(dataset: Any, *, full_check: Optional[bool] = None) -> Validation:
    """Is ``dataset`` a valid Cloud-Optimised GeoTIFF, by GDAL's rules?

    The checks are those of GDAL's ``validate_cloud_optimized_geotiff``, in
    libcloudio (no GDAL Python bindings needed): the image is tiled, has
    internal overviews in decreasing size, its IFDs come first and in
    order, the data of the smallest overview comes first and that of the
    full resolution last, and GDAL's ghost header is in its place. With the
    full check, the ghost header's claims (block order, the leader and
    trailer bytes of every block, masks interleaved with their imagery) are
    checked against the bytes too.

    Args:
        dataset: A path or URL (``s3://``, ``gs://``, ``az://``,
            ``https://``, ...), or a GDAL or pyramids dataset backed by a
            file.
        full_check: ``None`` (default): for local files only, as GDAL does
            (remote files would need a few bytes of every block);
            ``True``: always; ``False``: never.

    Returns:
        A :class:`Validation`: ``.valid``, ``.errors`` and ``.warnings``
        (tuples of sentences). A file that is not a TIFF at all is not
        valid.

    Raises:
        FileNotFoundError: ``dataset`` does not exist (``cloudio.NotFoundError``).
        cloudio.ReadWriteError: It cannot be read (also an ``OSError``).
        ValueError: ``dataset`` is not a file name or has no file.

    Examples:
        >>> import os, tempfile
        >>> import numpy as np
        >>> from cloudio import validate, write_cog
        >>> d = tempfile.mkdtemp()
        >>> cog = write_cog(np.zeros((600, 600), np.float32), os.path.join(d, "dem.tif"))
        >>> validate(cog)
        Validation(valid=True, errors=(), warnings=())
        >>> bool(validate(cog))
        True
        >>> with open(os.path.join(d, "notes.tif"), "w") as f:
        ...     _ = f.write("not a raster")
        >>> valid, errors, warnings = validate(os.path.join(d, "notes.tif"))
        >>> valid, errors[0][:29]
        (False, 'The file is not a GeoTIFF: no')
        >>> validate(os.path.join(d, "missing.tif"))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
            ...
        cloudio.errors.NotFoundError: ".../missing.tif" does not exist
        >>> import shutil; shutil.rmtree(d)
    """
    if full_check not in _FULL_CHECK:
        raise ValueError(f"full_check must be None, True or False, not {full_check!r}")
    name = _file(dataset, "validate")
    valid = ctypes.c_int()
    report = _lib.call_text("cloudio_validate_report", name, _FULL_CHECK[full_check], ctypes.byref(valid))
    lines = report.splitlines()
    return Validation(bool(valid.value), tuple(line[len("error: "):] for line in lines if line.startswith("error: ")),
                      tuple(line[len("warning: "):] for line in lines if line.startswith("warning: ")))


def info(dataset: Any) -> Dict[str, Any]:
    """Describe ``dataset`` from its metadata (no pixel is read), as plain
    data ready for ``json.dumps``.

    Keys: ``driver``, ``rows``, ``cols``, ``bands``, ``dtype`` (numpy's name,
    e.g. ``"float32"``), ``geotransform`` (GDAL's 6 coefficients or None),
    ``crs`` (``{"wkt": ..., "epsg": int or None}`` or None), ``nodata``
    (band 1's, or None), ``block`` (``[rows, cols]``), ``overviews``
    (``[[rows, cols], ...]``, largest first), ``compress``, ``predictor``,
    ``overview_resampling`` (as recorded in the file, or None),
    ``band_info`` (per band: ``description``, ``unit``, ``color_interp``,
    ``nodata``, ``mask`` (GDAL's mask flags when the band has a mask band,
    else None) and ``statistics`` (the ``STATISTICS_*`` the file records:
    ``minimum``, ``maximum``, ``mean``, ``stddev``, ``valid_percent``, or
    None)) and ``cog`` (what :func:`validate` says). Like ``gdalinfo
    -json``, but rows first and with numpy's type names. Nodata and
    statistics are floats, NaN included.

    Args:
        dataset: A path or URL, or a GDAL or pyramids dataset backed by a file.

    Raises:
        FileNotFoundError: ``dataset`` does not exist (``cloudio.NotFoundError``).
        cloudio.ReadWriteError: GDAL cannot read it as a raster.
        ValueError: ``dataset`` is not a file name or has no file.

    Examples:
        >>> import os, tempfile
        >>> import numpy as np
        >>> from cloudio import info, write_cog
        >>> d = tempfile.mkdtemp()
        >>> cog = write_cog(np.arange(600 * 700, dtype=np.float32).reshape(700, 600), os.path.join(d, "dem.tif"),
        ...                 geotransform=(500000, 30, 0, 4200000, 0, -30), crs=32633, nodata=-9999)
        >>> about = info(cog)
        >>> about["rows"], about["cols"], about["dtype"], about["crs"]["epsg"], about["nodata"]
        (700, 600, 'float32', 32633, -9999.0)
        >>> about["block"], about["overviews"], about["compress"], about["cog"]
        ([512, 512], [[350, 300]], 'DEFLATE', True)
        >>> import shutil; shutil.rmtree(d)
    """
    about = json.loads(info_json(dataset))
    about["nodata"] = _number(about["nodata"])
    for band in about["band_info"]:
        band["nodata"] = _number(band["nodata"])
        if band["statistics"] is not None:
            band["statistics"] = {k: _number(v) for k, v in band["statistics"].items()}
    return about


def info_json(dataset: Any) -> str:
    """:func:`info` as the library's JSON text (NaN and the infinities as
    the strings gdalinfo writes for them)."""
    return _lib.call_text("cloudio_info_json", _file(dataset, "info"))


def _number(value: Any) -> Any:
    """gdalinfo's strings for NaN and the infinities as floats."""
    return float(value) if isinstance(value, str) else value
