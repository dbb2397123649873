"""The ``asyncdag`` command: list a module's nodes, draw its DAG, run it.

``asyncdag list MODULE``, ``asyncdag viz MODULE -o dag.png [--output NODE ...]`` and
``asyncdag run MODULE OUTPUT... --input k=v --config k=v [--executor ...] [--json]``.
MODULE is an importable module name or a path to a ``.py`` file. An error is one line on
stderr and a non-zero exit code; ``--traceback`` shows the whole traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import pprint
import re
import sys
import traceback
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import cloudpickle

from .driver import Builder, Driver
from .errors import MissingInputError
from .execution.executors import Executor, InlineExecutor, ProcessExecutor, ThreadExecutor
from .graph.types import describe

__all__ = ["main"]

_EXECUTORS: dict[str, type[Executor]] = {
    "inline": InlineExecutor,
    "thread": ThreadExecutor,
    "process": ProcessExecutor,
}


class _UsageError(Exception):
    """A mistake on the command line, reported as one line."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    args = _parser().parse_args(argv)
    try:
        return int(args.command(args))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if args.traceback:
            traceback.print_exc()
        else:
            print(f"asyncdag: error: {_one_line(exc)}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("module", metavar="MODULE", help="a module name or a path to a .py file")
    common.add_argument(
        "--config", action="append", default=[], metavar="K=V", help="a config value (repeat)"
    )
    common.add_argument(
        "--traceback", action="store_true", help="on error, show the whole traceback"
    )
    inputs = argparse.ArgumentParser(add_help=False)
    inputs.add_argument(
        "--input",
        action="append",
        default=[],
        metavar="K=V",
        help="an input value, converted by the annotation of the parameters reading it (repeat)",
    )

    parser = argparse.ArgumentParser(
        prog="asyncdag", description="List a module's nodes, draw its DAG, run it."
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    listing = commands.add_parser("list", parents=[common], help="list nodes, inputs and config")
    listing.set_defaults(command=_list)

    viz = commands.add_parser("viz", parents=[common, inputs], help="draw the DAG to a file")
    viz.add_argument("-o", "--out", required=True, metavar="FILE", help="dag.png, dag.svg...")
    viz.add_argument(
        "--output",
        nargs="+",
        default=[],
        metavar="NODE",
        help="draw only what computing these nodes runs",
    )
    viz.set_defaults(command=_viz)

    run = commands.add_parser("run", parents=[common, inputs], help="compute outputs and print")
    run.add_argument("outputs", nargs="+", metavar="OUTPUT", help="the nodes to compute")
    run.add_argument(
        "--executor",
        choices=sorted(_EXECUTORS),
        default="inline",
        help="where the sync nodes of parallel blocks run (Builder.with_remote_executor)",
    )
    run.add_argument("--json", action="store_true", help="print the results as one JSON object")
    run.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="draw a progress bar on stderr (default: when stderr is a terminal)",
    )
    run.set_defaults(command=_run)
    return parser


# -- commands -------------------------------------------------------------------------------


def _list(args: argparse.Namespace) -> int:
    dr = _driver(args)
    rows = []
    for v in dr.list_available_variables():
        kind = "config" if v.name in dr.graph.config else "input" if v.is_external_input else "node"
        rows.append((v.name, _type_text(v.type), kind))
    widths = [max(len(r[i]) for r in [("name", "type", "kind"), *rows]) for i in range(2)]
    for name, tp, kind in [("name", "type", "kind"), *rows]:
        print(f"{name:<{widths[0]}}  {tp:<{widths[1]}}  {kind}".rstrip())
    return 0


def _viz(args: argparse.Namespace) -> int:
    dr = _driver(args)
    if args.output:
        inputs = _values(dr, args.input, "--input")
        dr.visualize_execution(args.output, args.out, inputs=inputs, bypass_validation=True)
    else:
        dr.display_all_functions(args.out)
    written = args.out if Path(args.out).suffix else f"{args.out}.png"
    print(f"wrote {written}")
    return 0


def _run(args: argparse.Namespace) -> int:
    dr = _driver(args, executor=_EXECUTORS[args.executor]())
    inputs = _values(dr, args.input, "--input")
    results = dr.execute_sync(args.outputs, inputs=inputs)
    if args.json:
        print(json.dumps(results, indent=2, default=_jsonable))
    else:
        for name, value in results.items():
            text = value if isinstance(value, str) else pprint.pformat(value)
            print(f"{name}: {text}")
    return 0


def _adapters(args: argparse.Namespace) -> list[Any]:
    """A progress bar for ``run`` when asked, or when stderr is a terminal (tqdm installed)."""
    wanted = getattr(args, "progress", False)
    if wanted is None:
        wanted = sys.stderr.isatty()
    if not wanted:
        return []
    from .lifecycle import ProgressBar

    try:
        return [ProgressBar(Path(args.module).stem, file=sys.stderr)]
    except ImportError:
        if args.progress:  # asked for by name: say what is missing
            raise
        return []


# -- building the Driver ---------------------------------------------------------------------


def _driver(args: argparse.Namespace, executor: Executor | None = None) -> Driver:
    module = _load(args.module)
    raw = _pairs(args.config, "--config")

    def build(config: Mapping[str, Any]) -> Driver:
        builder = Builder().with_modules(module).with_config(config)
        if executor is not None:
            builder = builder.with_remote_executor(executor)
        adapters = _adapters(args)
        return builder.with_adapters(*adapters).build() if adapters else builder.build()

    dr = build(raw)
    # Config values arrive as text; one a node reads as a parameter is converted like an input.
    config = _values(dr, args.config, "--config")
    return dr if config == raw else build(config)


def _load(target: str) -> types.ModuleType:
    """Import ``target`` by name, or load it from a file path (its folder joins ``sys.path``)."""
    path = Path(target)
    if target.endswith(".py") or os.sep in target or path.is_file():
        if not path.is_file():
            raise _UsageError(f"cannot load {target!r}: no such file")
        name = re.sub(r"\W", "_", path.stem)
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise _UsageError(f"cannot load {target!r}: not a Python file")
        module = importlib.util.module_from_spec(spec)
        sys.path.insert(0, str(path.resolve().parent))  # as `python file.py` does
        sys.modules[name] = module
        spec.loader.exec_module(module)
        # Worker processes cannot import a file by path: send its functions by value.
        cloudpickle.register_pickle_by_value(module)
        return module
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())  # as `python -m` does; a console script does not
    return importlib.import_module(target)


def _pairs(items: Sequence[str], flag: str) -> dict[str, str]:
    pairs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise _UsageError(f"{flag} {item!r}: expected NAME=VALUE")
        pairs[key] = value
    return pairs


def _values(dr: Driver, items: Sequence[str], flag: str) -> dict[str, Any]:
    """``NAME=VALUE`` pairs, each value converted by the annotation the graph gives its name."""
    known = {v.name: v.type for v in dr.list_available_variables()}
    return {
        key: _convert(flag, key, text, known.get(key, Any))
        for key, text in _pairs(items, flag).items()
    }


def _convert(flag: str, name: str, text: str, annotation: Any) -> Any:
    """int, float and bool from their text; list and dict as JSON; anything else stays text."""
    tp = _unwrap_optional(annotation)
    origin = typing.get_origin(tp) or tp
    try:
        if origin is bool:
            lowered = text.lower()
            if lowered not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(text)
            return lowered in ("true", "1", "yes")
        if origin is int:
            return int(text)
        if origin is float:
            return float(text)
        if origin in (list, dict):
            value = json.loads(text)
            if not isinstance(value, origin):
                raise ValueError(text)
            return value
    except ValueError:
        kind = "JSON " + origin.__name__ if origin in (list, dict) else origin.__name__
        raise _UsageError(
            f"{flag} {name}={text}: {name!r} is annotated {_type_text(annotation)}, and "
            f"{text!r} cannot be read as {kind}"
        ) from None
    return text


def _unwrap_optional(tp: Any) -> Any:
    args = typing.get_args(tp)
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        rest = [a for a in args if a is not type(None)]
        return rest[0] if len(rest) == 1 else Any
    return tp


# -- output ----------------------------------------------------------------------------------


def _type_text(tp: Any) -> str:
    return "" if tp is Any else re.sub(r"\b[A-Za-z_]\w*\.", "", describe(tp))


def _jsonable(value: Any) -> Any:
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def _one_line(exc: BaseException) -> str:
    """The error, where it was raised (node, branch) from its notes, on one line."""
    if isinstance(exc, MissingInputError):
        needs = "; ".join(
            f"{k!r} (needed by {', '.join(v)})" for k, v in sorted(exc.missing.items())
        )
        return f"missing input(s): {needs}. Pass them with --input NAME=VALUE."
    if isinstance(exc, _UsageError):
        return str(exc)
    message = " ".join(str(exc).split()) or "(no message)"
    where = [
        note.removeprefix("asyncdag: ")
        for note in getattr(exc, "__notes__", ())
        if note.startswith("asyncdag: raised by") or note.startswith("asyncdag: while")
    ]
    suffix = f" [{'; '.join(where)}]" if where else ""
    return f"{type(exc).__name__}: {message}{suffix}"
