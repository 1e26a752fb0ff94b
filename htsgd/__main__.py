"""The command line: ``python -m htsgd`` (or the ``htsgd`` console script).

Introduced in the chapter *Compressibility experiments* (``book/experiments.md``).

    python -m htsgd sweep CONFIG|--list [--results DIR] [--cache DIR] [--executor local|serial|dask]
                                 [--scheduler ADDRESS] [--workers N] [--batch E] [--only FIELD=V1,V2]...
                                 [--recompute] [--dry-run] [--no-progress] [--allow-runner MODULE:FUNCTION]...
                                 [--max-cells N]
    python -m htsgd info

``sweep`` runs every cell of a sweep that is not cached, then writes
``DIR/results.csv`` (default ``results/<sweep name>``), one row per cell. CONFIG is
a TOML file or the name of a sweep that ships with the package
(``book-teacher-student``, ``paper-mnist``, ...: ``python -m htsgd sweep --list``).
Interrupt it at any moment and run it again: finished cells are not redone.
``--only width=256 --only seed=0,1,2`` runs that part of the sweep (its cells keep their
cache keys, so a long sweep runs, and commits its results, in blocks).
A config names its runner from a registry (``htsgd.sweep.registry``), never a
module to import: ``--allow-runner module:function`` registers one for this run.
``info`` prints the versions and the device.

Exit status: 0 on success, 1 when a cell fails, 2 for a bad config or argument
(including an unregistered runner, a grid of more than ``--max-cells`` cells, a
cache or results folder that cannot be written, and a Dask scheduler that cannot
be reached or is not a Dask scheduler: the whole handshake is bounded at 5 s),
always with one line on standard error.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .sweep.config import EXECUTORS


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m htsgd",
        description="Heavy-tailed SGD and implicit compressibility: experiments from the command line.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sweep = sub.add_parser(
        "sweep",
        help="run a cached, resumable sweep from a TOML config",
        description="Run every cell of CONFIG that is not cached yet; write DIR/results.csv.",
    )
    sweep.add_argument(
        "config",
        nargs="?",
        help="a TOML file, or the name of a packaged sweep, e.g. book-teacher-student",
    )
    sweep.add_argument("--list", action="store_true", help="list the packaged sweeps and exit")
    sweep.add_argument(
        "--results",
        type=Path,
        default=None,
        help="folder for results.csv (default: results/<name>)",
    )
    sweep.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="cell cache (default: $HTSGD_CACHE_DIR or ~/.cache/htsgd/sweeps)",
    )
    sweep.add_argument("--executor", choices=list(EXECUTORS), default="local")
    sweep.add_argument(
        "--scheduler",
        default=None,
        help="address of a running Dask scheduler (with --executor dask)",
    )
    sweep.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker processes (default: one per CPU this process may use)",
    )
    sweep.add_argument(
        "--batch",
        type=int,
        default=None,
        metavar="E",
        help="train cells that differ only in seed, sigma, alpha, noise as batches of up to E networks",
    )
    sweep.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="FIELD=V1,V2",
        help="run only the cells whose FIELD is one of these values, e.g. width=256 or seed=0,1,2 "
        "(repeatable; results.csv then holds that part of the sweep; the cache serves the full sweep later)",
    )
    sweep.add_argument(
        "--recompute", action="store_true", help="ignore cached cells and run them again"
    )
    sweep.add_argument(
        "--dry-run",
        action="store_true",
        help="list the cells and whether each is cached; run nothing",
    )
    sweep.add_argument("--no-progress", action="store_true", help="no progress bar")
    sweep.add_argument(
        "--allow-runner",
        action="append",
        default=[],
        metavar="MODULE:FUNCTION",
        help="register this function as a runner a config may name (repeatable)",
    )
    sweep.add_argument(
        "--max-cells",
        type=int,
        default=None,
        help="refuse grids of more cells than this (default: $HTSGD_MAX_CELLS or 100000)",
    )
    sub.add_parser("info", help="versions and devices")
    return parser


def _info() -> int:
    import platform

    import numpy
    import torch

    import htsgd

    from .sweep import available_cpus, cache_dir

    print(f"htsgd {htsgd.__version__}")
    print(f"python {platform.python_version()} on {platform.platform()}")
    print(f"torch {torch.__version__}, numpy {numpy.__version__}")
    cuda = torch.cuda.is_available()
    print(f"cuda: {torch.cuda.get_device_name(0) if cuda else 'not available'}")
    print(f"cpu threads: {torch.get_num_threads()}")
    print(f"cpus this process may use: {available_cpus()} (sweep workers by default)")
    print(f"sweep cache: {cache_dir()}")
    return 0


def _fail(message: object) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _argument_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with the arguments of ``sweep`` (None if nothing)."""
    from .sweep.executors import check_scheduler

    if args.config is None:
        return "give a CONFIG (a TOML file or a packaged sweep's name) or --list"
    if args.scheduler and args.executor != "dask":
        return "--scheduler needs --executor dask"
    if args.scheduler:
        try:
            check_scheduler(args.scheduler)
        except ValueError as err:
            return str(err)
    if args.workers is not None and args.workers < 1:
        return f"--workers must be at least 1, got {args.workers}"
    if args.batch is not None and args.batch < 1:
        return f"--batch must be at least 1, got {args.batch}"
    if args.max_cells is not None and args.max_cells < 1:
        return f"--max-cells must be at least 1, got {args.max_cells}"
    return None


def _only(specs: list[str]) -> dict[str, list[object]]:
    """``["width=256", "seed=0,1"]`` as ``{"width": [256], "seed": [0, 1]}`` (numbers where they parse)."""
    out: dict[str, list[object]] = {}
    for spec in specs:
        field, sep, values = spec.partition("=")
        if not sep or not field or not values:
            raise ValueError(f"--only takes FIELD=V1,V2,..., got {spec!r}")
        out.setdefault(field.strip(), []).extend(_scalar(v.strip()) for v in values.split(","))
    return out


def _scalar(text: str) -> object:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _dry_run(config, cells, cache, batch) -> int:
    from .sweep import cell_hash
    from .sweep.runner import runner_of

    for cell in cells:
        digest = cell_hash(cell, runner_of(cell, config.runner, batch))
        print(f"{digest[:12]}  {'cached ' if digest in cache else 'pending'}  {cell.label()}")
    extra = (
        f" (+ matched-steps controls for alpha in {list(config.matched_steps)})"
        if config.matched_steps
        else ""
    )
    print(f"{len(cells)} cells{extra}")
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from .sweep import Cache, CacheError, ConfigError, config_names, load_config, run_sweep
    from .sweep.registry import register_runner

    if args.list:
        print("\n".join(config_names()))
        return 0
    problem = _argument_problem(args)
    if problem is not None:
        return _fail(problem)
    try:
        for spec in args.allow_runner:
            register_runner(spec)
        config = load_config(args.config)
        if args.only:
            config = config.subset(**_only(args.only))
        cells = config.cells(max_cells=args.max_cells)
    except (FileNotFoundError, ConfigError, TypeError, ValueError) as err:
        return _fail(err)
    cache = Cache(args.cache)
    if args.dry_run:
        return _dry_run(config, cells, cache, args.batch)
    results = args.results if args.results is not None else Path("results") / config.name
    start = time.perf_counter()
    try:
        frame = run_sweep(
            config,
            results=results,
            cache=cache,
            executor=args.executor,
            workers=args.workers,
            scheduler=args.scheduler,
            progress=not args.no_progress,
            recompute=args.recompute,
            max_cells=args.max_cells,
            batch=args.batch,
        )
    except RuntimeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except (CacheError, ConnectionError, OSError, ValueError) as err:
        return _fail(err)
    print(
        f"{config.name}: {len(frame)} cells in {time.perf_counter() - start:.1f} s -> {results / 'results.csv'}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m htsgd`` and of the ``htsgd`` console script; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.command == "info":
        return _info()
    return _sweep(args)


if __name__ == "__main__":
    sys.exit(main())
