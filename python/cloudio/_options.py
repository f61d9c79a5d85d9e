"""The keywords every writer takes, turned into what the library takes.

``write_cog``, ``map_tiles``, ``to_cog``, ``write_zarr`` and the ``Store``
methods share ``compress=``, ``options=``, ``overview_resampling=``,
``blocksize=`` and ``progress=`` (the COG writers ``statistics=`` too). The library checks every value (the
driver's declared types, ranges and choices, and the limits it enforces
without declaring them) before any work; this module only carries
``overview_resampling`` and ``blocksize`` as the creation options they are
(``OVERVIEW_RESAMPLING``, ``BLOCKSIZE``) and makes ``progress=True`` a bar.
"""
from __future__ import annotations

import ctypes
import numbers
import sys
from typing import Any, Callable, Dict, Iterable, List, Mapping, NamedTuple, Optional, Union

import numpy as np

from . import _lib

Options = Union[None, Mapping[str, Any], Iterable[str]]
Progress = Union[None, bool, Callable[[float], Any]]


class WriteOptions(NamedTuple):
    """What a writer hands the library: its COMPRESS method (bytes), the
    creation options as a ``KEY=VALUE`` array (or None) and the progress
    callable (or None); ``given`` is the options before conversion."""

    compress: bytes
    options: Optional[ctypes.Array]
    progress: Optional[Callable[[float], Any]]
    given: Options

    def with_nodata(self, nodata: Any) -> Optional[ctypes.Array]:
        """The options array, plus the library's ``NODATA=<integer>`` for a
        nodata value a double cannot carry exactly (which the writer's
        ``const double *nodata`` then leaves NULL, see cog.nodata_pointer)."""
        if not beyond_double(nodata):
            return self.options
        return _lib.options_array(_merged(self.given, {"NODATA": int(nodata)}))


def beyond_double(nodata: Any) -> bool:
    """Whether nodata is an integer a double cannot hold exactly (a 64-bit
    nodata such as 2**64 - 1)."""
    return isinstance(nodata, numbers.Integral) and not isinstance(nodata, (bool, np.bool_)) and \
        (abs(int(nodata)) > 2**1023 or float(nodata) != int(nodata))


def write_options(compress: Any, options: Options, overview_resampling: Optional[str], blocksize: Any,
                  progress: Progress, label: str, example: str = "deflate",
                  statistics: Optional[bool] = None, once: bool = False) -> WriteOptions:
    """The shared keywords of a writer; ``label`` names the bar of
    ``progress=True``, ``example`` a method of the writer's driver.
    ``statistics=False`` (COG writers) is the option ``STATISTICS=NO``: the
    library records band statistics unless told not to. ``once``: the
    writer writes each cell once, so the library's tile writer may encode
    tiles as they are complete (``STREAM=YES``) unless the options say."""
    if not isinstance(compress, str) or not compress.strip():
        raise ValueError(f"compress must be a method name such as {example!r}, not {compress!r}")
    if statistics is not None and not isinstance(statistics, (bool, np.bool_)):
        raise ValueError(f"statistics must be True or False, not {statistics!r}")
    extra: Dict[str, Union[str, int]] = {} if statistics is None or statistics else {"STATISTICS": "NO"}
    for key, value in (("OVERVIEW_RESAMPLING", overview_resampling), ("BLOCKSIZE", blocksize)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, str if key == "OVERVIEW_RESAMPLING" else int):
            kind = "a method name such as 'average'" if key == "OVERVIEW_RESAMPLING" else "an integer"
            raise ValueError(f"{key.lower()} must be {kind}, not {value!r}")
        extra[key] = value
    if once and "STREAM" not in _keys(options):
        extra["STREAM"] = "YES"
    given = _merged(options, extra)
    return WriteOptions(compress.encode(), _lib.options_array(given), progress_callable(progress, label), given)


def _merged(options: Options, extra: Mapping[str, Any]) -> Options:
    """options plus the creation options the keywords stand for; a keyword
    and an option that set the same key are an error, not a silent choice."""
    if not extra or isinstance(options, (str, bytes)):
        return options  # a single string: options_array says how to pass it
    given: Union[Dict[Any, Any], List[Any]]
    if options is None or isinstance(options, Mapping):
        given = dict(options or {})
    else:
        try:
            given = list(options)
        except TypeError:
            return options  # options_array says what it must be
    for key in extra:
        if key in _keys(given):
            raise ValueError(f"{key.lower()}= and options both set {key}: give one")
    if isinstance(given, dict):
        return {**given, **extra}
    return given + [f"{k}={v}" for k, v in extra.items()]


def _keys(options: Options) -> List[str]:
    """The keys options set, upper case (none for what options_array will
    refuse)."""
    if options is None or isinstance(options, (str, bytes)):
        return []
    if isinstance(options, Mapping):
        return [str(k).strip().upper() for k in options]
    try:
        items = list(options)
    except TypeError:
        return []
    return [item.split("=", 1)[0].strip().upper() for item in items if isinstance(item, str)]


def progress_callable(progress: Progress, label: str) -> Optional[Callable[[float], Any]]:
    """A progress callable: the caller's, or for True a tqdm bar when tqdm is
    installed and a plain percentage line on stderr otherwise."""
    if progress is None or progress is False:
        return None
    if callable(progress):
        return progress
    if progress is not True:
        raise ValueError(f"progress must be a callable taking the fraction done, True or None, not {progress!r}")
    try:
        from tqdm import tqdm  # type: ignore[import-untyped]
    except ImportError:
        def line(fraction: float) -> None:
            end = "\n" if fraction >= 1.0 else ""
            sys.stderr.write(f"\r{label}: {fraction * 100:5.1f}%{end}")
            sys.stderr.flush()
        return line
    bar = tqdm(total=1000, desc=label, unit="‰")

    def update(fraction: float) -> None:
        bar.update(int(fraction * 1000) - bar.n)
        if fraction >= 1.0:
            bar.close()
    return update
