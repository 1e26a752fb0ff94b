"""The command line: ``python -m htsgd`` (or the ``htsgd`` console script).

Introduced in the chapter *Compressibility experiments* (``book/experiments.md``).

    python -m htsgd sweep CONFIG [--results DIR] [--cache DIR] [--executor local|serial|dask]
                                 [--scheduler ADDRESS] [--workers N] [--recompute] [--dry-run]
                                 [--no-progress]
    python -m htsgd info

``sweep`` runs every cell of a TOML sweep (``configs/*.toml``) that is not cached,
then writes ``DIR/results.csv`` (default ``results/<sweep name>``), one row per
cell. Interrupt it at any moment and run it again: finished cells are not redone.
``info`` prints the versions and the device.

Exit status: 0 on success, 1 when a cell fails, 2 for a bad config or argument.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


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
        "config", type=Path, help="a TOML sweep, e.g. configs/book-teacher-student.toml"
    )
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
    sweep.add_argument("--executor", choices=["local", "serial", "dask"], default="local")
    sweep.add_argument(
        "--scheduler",
        default=None,
        help="address of a running Dask scheduler (with --executor dask)",
    )
    sweep.add_argument(
        "--workers", type=int, default=None, help="worker processes (default: one per core)"
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
    sub.add_parser("info", help="versions and devices")
    return parser


def _info() -> int:
    import platform

    import numpy
    import torch

    import htsgd

    from .sweep import cache_dir

    print(f"htsgd {htsgd.__version__}")
    print(f"python {platform.python_version()} on {platform.platform()}")
    print(f"torch {torch.__version__}, numpy {numpy.__version__}")
    cuda = torch.cuda.is_available()
    print(f"cuda: {torch.cuda.get_device_name(0) if cuda else 'not available'}")
    print(f"cpu threads: {torch.get_num_threads()}")
    print(f"sweep cache: {cache_dir()}")
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from .sweep import ConfigError, _read_record, cell_hash, cell_path, load_config, run_sweep

    if args.scheduler and args.executor != "dask":
        print("error: --scheduler needs --executor dask", file=sys.stderr)
        return 2
    if args.workers is not None and args.workers < 1:
        print(f"error: --workers must be at least 1, got {args.workers}", file=sys.stderr)
        return 2
    try:
        config = load_config(args.config)
    except FileNotFoundError:
        print(f"error: no such config file: {args.config}", file=sys.stderr)
        return 2
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    cells = config.cells()
    if args.dry_run:
        for cell in cells:
            digest = cell_hash(cell, config.runner)
            cached = _read_record(cell_path(digest, args.cache), digest) is not None
            print(f"{digest[:12]}  {'cached ' if cached else 'pending'}  {cell.label()}")
        extra = (
            f" (+ matched-steps controls for alpha in {list(config.matched_steps)})"
            if config.matched_steps
            else ""
        )
        print(f"{len(cells)} cells{extra}")
        return 0
    results = args.results if args.results is not None else Path("results") / config.name
    start = time.perf_counter()
    try:
        frame = run_sweep(
            config,
            results=results,
            cache=args.cache,
            executor=args.executor,
            workers=args.workers,
            scheduler=args.scheduler,
            progress=not args.no_progress,
            recompute=args.recompute,
        )
    except RuntimeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
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
