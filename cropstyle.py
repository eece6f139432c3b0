"""cropstyle: the command line. Thin: each command parses its arguments and calls one stage.

Errors reach the user as one line; `--debug` shows the traceback.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


class UserError(Exception):
    """A problem the user can fix (a bad argument, a missing tool): printed as one line, exit 2."""


def _remap(value: str) -> tuple[str, str]:
    old, sep, new = value.partition("=")
    if not sep or not old:
        raise argparse.ArgumentTypeError(f"--remap takes OLD=NEW, not {value!r}")
    return old, new


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cropstyle", description="Learn a photographer's crop style.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    extract = commands.add_parser("extract", help="photo library (XMP, sidecars, .lrcat) → dataset")
    extract.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="folders, photos or .lrcat catalogs")
    extract.add_argument("--out", required=True, type=Path, metavar="DATASET")
    extract.add_argument("--size", type=_positive_int, default=512, help="long side of training images (px)")
    extract.add_argument("--jobs", type=_positive_int, default=None, help="decoding processes (default: cores)")
    extract.add_argument("--include-uncropped", action="store_true", help="label uncropped photos as full frame")
    extract.add_argument("--remap", type=_remap, action="append", default=[], metavar="OLD=NEW",
                         help="rewrite a catalog path prefix (repeatable)")

    sample = commands.add_parser("sample-library", help="generate a synthetic photo library with known crops")
    sample.add_argument("directory", type=Path, metavar="DIR")
    sample.add_argument("--count", type=_positive_int, default=120)
    sample.add_argument("--seed", type=int, default=0)
    return parser


def run(args: argparse.Namespace) -> int:
    if args.command == "extract":
        from extractor.extract import extract

        summary = extract(args.paths, args.out, size=args.size, jobs=args.jobs,
                          include_uncropped=args.include_uncropped, remap=args.remap)
        print(summary.report())
        return 0
    if args.command == "sample-library":
        from extractor.sample_library import make_sample_library

        summary = make_sample_library(args.directory, count=args.count, seed=args.seed)
        print(summary.report())
        return 0
    raise AssertionError(f"unhandled command {args.command}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except KeyboardInterrupt:
        print("cropstyle: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # one line for users, the traceback with --debug
        if args.debug:
            raise
        print(f"cropstyle: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
