"""The command functions: every subcommand of the `varlearn` command line as a Python function.

A function's keyword arguments are the command's options (dashes become underscores, a switch
such as --force is True/False, a value None or left out means "not given", exactly as leaving
the flag out); it runs the command in-process — the command line's own parsing, checks and
library call — and returns a Result whose fields are the keys of the command's --json output.
"""

import inspect
import json
import keyword
import os
import tempfile
from numbers import Integral, Real

import numpy as np

from . import _varlearn

# Options that take clean or noisy frames: a NumPy array given there holds frames as rows
# (B, n), the file the command reads holds them as columns (n x B).
_FRAME_OPTIONS = {"clean", "noisy", "test"}


class Result(dict):
    """A command's result: a dict of its JSON keys, also readable as attributes (r.risk; a key
    named like a dict method, which no command has, would need r["key"])."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"this result has no field '{name}' (fields: {', '.join(self)})") from None

    def __dir__(self):
        return list(self) + list(super().__dir__())

    def __repr__(self):
        shown = {k: v for k, v in self.items() if not isinstance(v, (np.ndarray, dict, list)) and k != "model"}
        return f"Result({shown})"


class _Option:
    def __init__(self, name, is_flag, many, default, help_text, required):
        self.name, self.is_flag, self.many = name, is_flag, many
        self.default, self.help, self.required = default, help_text, required
        self.python = name.replace("-", "_")
        if keyword.iskeyword(self.python):  # --as is as_
            self.python += "_"


def _number_text(value, what):
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{what}: expected a number or text, got {value!r}")
    if isinstance(value, Integral):
        return str(int(value))
    if isinstance(value, Real):
        return repr(float(value))  # shortest text that reads back as the same double
    return None


def _write_matrix(array, transpose):
    """A NumPy matrix as the text file the command line reads (one row per line, 17 digits)."""
    a = np.asarray(array, dtype=np.float64)
    if a.ndim == 1:
        a = a[None, :] if transpose else a[:, None]
    if a.ndim != 2:
        raise ValueError(f"expected a 1-D or 2-D array, got {a.ndim} dimensions")
    if transpose:
        a = a.T
    fd, path = tempfile.mkstemp(prefix="varlearn-", suffix=".txt")
    with os.fdopen(fd, "w") as f:
        np.savetxt(f, a, fmt="%.17g")
    return path


def _text(option, value, temporary):
    what = option.python
    if isinstance(value, np.ndarray) and value.ndim >= 1:
        path = _write_matrix(value, option.name in _FRAME_OPTIONS)
        temporary.append(path)
        return path
    number = _number_text(value, what)
    if number is not None:
        return number
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return ",".join(_text(option, v, temporary) for v in value)
    raise ValueError(f"{what}: cannot pass {type(value).__name__} {value!r} (a number, text, path or list)")


def _argv(path, options, kwargs, fname, has_json):
    args = list(path)
    temporary = []
    for key, value in kwargs.items():
        option = options.get(key)
        if option is None:
            raise TypeError(f"{fname}() got an unexpected keyword argument '{key}'")
        if value is None:
            continue
        flag = "--" + option.name
        if option.is_flag:
            if not isinstance(value, (bool, np.bool_)):
                raise ValueError(f"{key} is a switch: True or False, got {value!r}")
            if value:
                args.append(flag)
            continue
        if option.many and isinstance(value, (list, tuple)):
            args.append(flag)
            args.extend(_text(option, v, temporary) for v in value)
        else:
            args.extend([flag, _text(option, value, temporary)])
    if has_json:
        args.append("--json")
    return args, temporary


def _arrays(result):
    """Lists of numbers that are data (stepsizes, grids, tables) become NumPy arrays."""
    grid = result.pop("grid", None)
    if grid is not None:
        values = np.asarray(grid["values"], dtype=np.float64)
        result["grid"] = values.reshape(grid["ny"], grid["nx"]) if "y_values" in grid else values
        result["x_values"] = np.asarray(grid["x_values"], dtype=np.float64)
        if "y_values" in grid:
            result["y_values"] = np.asarray(grid["y_values"], dtype=np.float64)
    if isinstance(result.get("stepsizes"), list):
        result["stepsizes"] = np.asarray(result["stepsizes"], dtype=np.float64)
    rows = result.get("rows")
    if isinstance(rows, list) and rows and "learned" in rows[0]:  # theory depth
        for key in ("N", "learned", "learned_stepsize", "learned_attained"):
            result[key] = np.asarray([r[key] for r in rows])
        result["fixed"] = {w: np.asarray([r["fixed"][w] for r in rows]) for w in rows[0]["fixed"]}
    return result


def run(path, options, kwargs, fname, has_json):
    args, temporary = _argv(path, options, kwargs, fname, has_json)
    try:
        out = _varlearn._run(args)
    finally:
        for p in temporary:
            os.unlink(p)
    result = Result(_arrays(out["json"] if out["json"] is not None else {}))
    if out["json"] is None and kwargs.get("out") is not None and os.path.isdir(kwargs["out"]):
        # The studies and reproduce print a report, not a JSON object: their result is the
        # folder, its files and its results.json.
        folder = os.fspath(kwargs["out"])
        result["out"] = folder
        result["files"] = sorted(os.path.relpath(os.path.join(d, f), folder)
                                 for d, _, names in os.walk(folder) for f in names)
        summary = os.path.join(folder, "results.json")
        if os.path.isfile(summary):
            with open(summary) as f:
                result["results"] = json.load(f)
    if out["model"] is not None:
        # The trained model object (the general model's JSON has "model": "general" here: the
        # object's type, GeneralModel, says the same).
        result["model"] = out["model"]
    if out["interrupt"] is not None:
        exc = out["interrupt"]
        exc.result = result  # the run stopped at a valid iterate: its result (and model) are here
        raise exc
    return result


def command(*path, summary="", name=None):
    """The function of the subcommand `varlearn PATH...`, with its options as keyword arguments."""
    options = {}
    has_json = False
    for spec in _varlearn._options(list(path)):
        o = _Option(*spec)
        if o.name == "json":  # always given: the result comes back as the JSON object
            has_json = True
            continue
        options[o.python] = o
    fname = name or path[-1]

    def function(**kwargs):
        return run(path, options, kwargs, fname, has_json)

    lines = []
    if summary:
        lines += [summary.strip(), ""]
    lines += [
        f"The command `varlearn {' '.join(path)}`: {_varlearn._description(list(path))}",
        "",
        "Keyword arguments are its options (dashes as underscores, a Python keyword gets a trailing",
        "underscore: --as is as_; None or omitted = not given,",
        "the command's default). Returns a Result whose fields are the keys of its --json output.",
        "Bad input raises ValueError with the command's message.",
        "",
        "Options:",
    ]
    for o in options.values():
        default = f" [default: {o.default}]" if o.default not in ("", None) else ""
        kind = " (switch: True/False)" if o.is_flag else ""
        req = " (required)" if o.required else ""
        array = ""
        if o.name in _FRAME_OPTIONS:
            array = " (or a NumPy array of frames as rows, (B, n))"
        elif o.name in ("second-moment", "matrix"):
            array = " (or a NumPy array)"
        lines.append(f"  {o.python}{kind}{req}: {o.help}{array}{default}")
    function.__doc__ = "\n".join(lines)
    function.__name__ = fname
    function.__qualname__ = fname
    function.__signature__ = inspect.Signature(
        [inspect.Parameter(o.python, inspect.Parameter.KEYWORD_ONLY, default=None) for o in options.values()])
    function.options = {k: (o.default, o.help) for k, o in options.items()}
    return function
