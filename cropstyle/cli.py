"""cropstyle: the command line. Thin: each command parses its arguments and calls one stage.

Errors reach the user as one line; `--debug` shows the traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import sys
from pathlib import Path

from cropstyle.export.editor_sidecars import EDITORS
from cropstyle.extractor.dataset import TRAINING_LONG_SIDE
from cropstyle.training.general import GENERAL, GENERAL_MODEL, resolve_run
from cropstyle.training.options import ARCHS, CHOOSE_BELOW, DEFAULTS, GENERAL_BELOW, LOSSES, SCRATCH_ARCH
from cropstyle.web.settings import ServeSettings

GENERAL_HELP = "the general model shipped with cropstyle (training/general_model/MODEL_CARD.md)"
RUN_HELP = f"a training RUN, or `general`: {GENERAL_HELP}"


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


def _positive_float(value: str) -> float:
    number = float(value)
    if not number > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {value}")
    return number


def _iou_fraction(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number between 0 and 1, not {value!r}") from None
    if not 0 <= number <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (an expected IoU), not {value}")
    return number


def _network(value: str) -> str:
    import ipaddress

    try:
        return str(ipaddress.ip_network(value, strict=False))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an address or network: {value!r}") from None


def _aspects(value: str) -> list[tuple[float, float]]:
    from cropstyle.export.predict import parse_aspect

    try:
        return [parse_aspect(part.strip()) for part in value.split(",")]
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _top(value: str) -> int:
    from cropstyle.export.predict import MAX_TOP

    number = _positive_int(value)
    if number > MAX_TOP:
        raise argparse.ArgumentTypeError(f"must be 1 to {MAX_TOP}, not {value}")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cropstyle", description="Learn a photographer's crop style.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks, and TensorFlow's own logging")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    extract = commands.add_parser("extract", help="photo library (XMP, sidecars, .lrcat) → dataset")
    extract.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="folders, photos or .lrcat catalogs")
    extract.add_argument("--out", required=True, type=Path, metavar="DATASET")
    extract.add_argument(
        "--size", type=_positive_int, default=TRAINING_LONG_SIDE, help="long side of training images (px)"
    )
    extract.add_argument("--jobs", type=_positive_int, default=None, help="decoding processes (default: cores)")
    extract.add_argument("--include-uncropped", action="store_true", help="label uncropped photos as full frame")
    extract.add_argument(
        "--remap",
        type=_remap,
        action="append",
        default=[],
        metavar="OLD=NEW",
        help="rewrite a catalog path prefix (repeatable)",
    )

    from cropstyle.samples.styles import CLASSIC, STYLES

    sample = commands.add_parser(
        "sample-library",
        help="generate a synthetic photo library with known crops",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="styles (photographers, each with one habit):\n"
        + "\n".join(f"  {name:<10} {style.habit}" for name, style in STYLES.items()),
    )
    sample.add_argument("directory", type=Path, metavar="DIR")
    sample.add_argument("--count", type=_positive_int, default=120)
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument(
        "--style",
        choices=list(STYLES),
        default=CLASSIC,
        help=f"the photographer (default {CLASSIC}: the realistic mix of files; the others write "
        "JPEGs with embedded XMP)",
    )

    train = commands.add_parser("train", help="datasets → trained crop model (RUN)")
    train.add_argument("datasets", nargs="+", type=Path, metavar="DATASET", help="one or more, combined")
    train.add_argument("--out", required=True, type=Path, metavar="RUN")
    train.add_argument(
        "--epochs",
        type=_positive_int,
        default=DEFAULTS.epochs,
        help="this many passes over the photos (default: by the number of photos, about 1,500 steps from scratch, 500 "
        "fine-tuning)",
    )
    train.add_argument("--batch-size", type=_positive_int, default=DEFAULTS.batch_size)
    train.add_argument(
        "--image-size", type=_positive_int, default=DEFAULTS.image_size, metavar="PX", help="model input side"
    )
    train.add_argument(
        "--arch",
        choices=ARCHS,
        default=DEFAULTS.arch,
        help=f"the model (default: the start's when fine-tuning, {SCRATCH_ARCH} from scratch)",
    )
    train.add_argument(
        "--weights",
        default=DEFAULTS.weights or "none",
        metavar="none|imagenet|PATH",
        help="backbone weights (mobilenet)",
    )
    train.add_argument(
        "--loss", choices=LOSSES, default=DEFAULTS.loss, help="value term beside the IoU term (training/losses.py)"
    )
    train.add_argument("--val-split", type=float, default=DEFAULTS.val_split, metavar="F")
    train.add_argument("--seed", type=int, default=DEFAULTS.seed)
    train.add_argument(
        "--flip-average",
        action="store_true",
        default=DEFAULTS.flip_average,
        help="average each prediction with its mirror image's (a little better, twice the work per "
        "photo: the browser gets slower than smartcrop.js on small photos)",
    )
    train.add_argument(
        "--ensemble",
        type=_positive_int,
        default=DEFAULTS.ensemble,
        metavar="N",
        help=f"train N models (seeds S, S+1, …) and predict their mean (default {DEFAULTS.ensemble}: "
        "more accurate than one, for N times the training; 1: one model)",
    )
    train.add_argument(
        "--mixed-precision", action="store_true", default=DEFAULTS.mixed_precision, help="float16 compute on a GPU"
    )
    train.add_argument(
        "--start",
        default=DEFAULTS.start,
        metavar="auto|general|scratch|RUN",
        help="the weights to start from: the shipped general model, fine-tuned on your crops (where its architecture "
        "and input size fit), scratch, or another RUN's members; auto (default): the general model for fewer than "
        f"{GENERAL_BELOW} photos, both it and scratch up to {CHOOSE_BELOW - 1} (the one better on the validation "
        f"photos kept, the other in RUN/starts/), else scratch",
    )
    train.add_argument("--resume", action="store_true", help="continue an interrupted RUN")

    evaluate = commands.add_parser("evaluate", help="model against baselines on held-out datasets")
    evaluate.add_argument("run", type=resolve_run, metavar="RUN", help=RUN_HELP)
    evaluate.add_argument("datasets", nargs="+", type=Path, metavar="DATASET")
    evaluate.add_argument("--out", type=Path, metavar="REPORT", help="metrics.json and index.html here")
    evaluate.add_argument(
        "--include-seen", action="store_true", help="keep photos the RUN trained or validated on (left out by default)"
    )

    export = commands.add_parser("export", help="trained RUN → TF.js graph model for the browser (parity checked)")
    export.add_argument("run", type=resolve_run, metavar="RUN", help=RUN_HELP)
    export.add_argument("--out", required=True, type=Path, metavar="WEBMODEL")
    export.add_argument("--quantize", choices=("none", "float16", "uint8"), default="none")

    predict = commands.add_parser("predict", help="predict the crops of photos (files and folders)")
    predict.add_argument("run", type=resolve_run, metavar="RUN", help=RUN_HELP)
    predict.add_argument("paths", nargs="+", type=Path, metavar="PHOTO_OR_DIR")
    predict.add_argument(
        "--aspect",
        type=_aspects,
        default=[],
        metavar="W:H[,W:H...]",
        help="crops of these ratios (4:5, 1:1, 16:9, ...): first the prediction's framing at that ratio (same centre, "
        "angle and area), then the largest inside it and the smallest holding it, ranked",
    )
    predict.add_argument(
        "--top",
        type=_top,
        default=1,
        metavar="N",
        help="with --aspect: up to N (1–3) distinct crops per ratio, best first, each with its expected IoU",
    )
    predict.add_argument("--format", choices=("table", "csv", "json"), default="table")
    predict.add_argument(
        "--write-cropped",
        type=Path,
        metavar="DIR",
        help="write each photo cropped and straightened, full resolution, as DIR/NAME.jpg",
    )
    predict.add_argument("--batch-size", type=_positive_int, default=32)
    predict.add_argument("--jobs", type=_positive_int, default=None, help="decoding threads (default: cores)")

    apply = commands.add_parser("apply", help="write predicted crops for Lightroom (XMP sidecars or --in-place)")
    apply.add_argument("run", type=resolve_run, metavar="RUN", help=RUN_HELP)
    apply.add_argument("paths", nargs="+", type=Path, metavar="PHOTO_OR_DIR")
    apply.add_argument("--dry-run", action="store_true", help="print what would change, write nothing")
    apply.add_argument(
        "--force", action="store_true", help="replace crops that are already there; write into stale sidecars"
    )
    apply.add_argument(
        "--in-place",
        action="store_true",
        help="JPEG/TIFF/DNG: write into the file (exiftool keeps FILE_original) instead of a sidecar",
    )
    apply.add_argument(
        "--catalog",
        type=Path,
        metavar="CATALOG.lrcat",
        help="Lightroom catalog (read only): new raw sidecars carry its develop settings, stale sidecars are refused",
    )
    apply.add_argument(
        "--remap",
        type=_remap,
        action="append",
        default=[],
        metavar="OLD=NEW",
        help="rewrite the catalog's path prefix OLD to NEW (repeatable), as extract does",
    )
    apply.add_argument(
        "--editor",
        choices=EDITORS,
        default="lightroom",
        help="whose files get the crops: Lightroom's XMP (default), darktable's NAME.EXT.xmp history or "
        "RawTherapee's NAME.EXT.pp3",
    )
    apply.add_argument(
        "--new-sidecars",
        action="store_true",
        help="without the catalog, make sidecars holding only the crop for raws that have none",
    )
    apply.add_argument(
        "--min-confidence",
        type=_iou_fraction,
        default=None,
        metavar="X",
        help="write only crops whose confidence (the expected IoU with your own crop, 0–1, as predict prints it) is "
        "at least X; the rest are skipped",
    )
    apply.add_argument("--batch-size", type=_positive_int, default=32)
    apply.add_argument("--jobs", type=_positive_int, default=None, help="decoding threads (default: cores)")

    served = {setting.name: setting.default for setting in dataclasses.fields(ServeSettings)}  # defaults said once
    serve = commands.add_parser("serve", help="browser demo and correction collection server")
    serve.add_argument(
        "--model",
        default=GENERAL if (GENERAL_MODEL / "web" / "model.json").is_file() else "none",
        metavar="WEBMODEL_OR_RUN",
        help=f"the model the page suggests crops with (default: `general`, {GENERAL_HELP}; `none`: no model)",
    )
    serve.add_argument(
        "--store",
        default="data/corrections",
        metavar="DIR|postgresql://USER@HOST/DB",
        help="a folder (SQLite, the default) or a PostgreSQL URL shared by several servers; its "
        "password goes in PGPASSWORD or ~/.pgpass (libpq's), not in the URL, which the process "
        "list shows",
    )
    serve.add_argument("--host", default=served["host"])
    serve.add_argument("--port", type=int, default=served["port"])
    serve.add_argument(
        "--workers", type=_positive_int, default=served["workers"], help="server processes sharing the store"
    )
    serve.add_argument(
        "--token",
        default=None,
        help="required to read the collected corrections (the process list shows it: prefer "
        "--token-file or the CROPSTYLE_TOKEN variable)",
    )
    serve.add_argument("--token-file", type=Path, default=None, metavar="FILE", help="the token, its first line")
    serve.add_argument(
        "--rate-limit",
        type=float,
        default=served["rate_per_minute"],
        metavar="N",
        help="submissions per minute per client address, across all workers (0: off)",
    )
    serve.add_argument(
        "--trusted-proxy",
        type=_network,
        action="append",
        default=[],
        metavar="ADDR",
        help="a reverse proxy (address or network) whose X-Forwarded-For names the client (repeatable)",
    )
    serve.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="HOST",
        help="a Host name the server answers (repeatable; default: the --host address and localhost)",
    )
    serve.add_argument(
        "--header-timeout",
        type=_positive_float,
        default=served["header_timeout"],
        metavar="S",
        help="seconds for a request's headers to arrive",
    )
    serve.add_argument(
        "--body-timeout",
        type=_positive_float,
        default=served["body_timeout"],
        metavar="S",
        help="seconds for a request's body to arrive after its headers",
    )
    serve.add_argument(
        "--max-connections",
        type=_positive_int,
        default=served["max_connections"],
        metavar="N",
        help="open connections per worker; beyond them a request is answered 503",
    )
    serve.add_argument("--quiet", action="store_true", help="log warnings only")

    collected = commands.add_parser("collected", help="collected corrections → dataset (origin collected)")
    collected.add_argument("store", metavar="STORE", help="the serve --store: a folder or a PostgreSQL URL")
    collected.add_argument("--out", required=True, type=Path, metavar="DATASET")
    collected.add_argument(
        "--size", type=_positive_int, default=TRAINING_LONG_SIDE, help="long side of training images (px)"
    )
    return parser


def run(args: argparse.Namespace) -> int:
    if args.command == "extract":
        from cropstyle.extractor.extract import extract

        summary = extract(
            args.paths,
            args.out,
            size=args.size,
            jobs=args.jobs,
            include_uncropped=args.include_uncropped,
            remap=args.remap,
        )
        print(summary.report())
        return 0
    if args.command == "sample-library":
        from cropstyle.samples.library import make_sample_library

        summary = make_sample_library(args.directory, count=args.count, seed=args.seed, style=args.style)
        print(summary.report())
        return 0
    if args.command == "train":
        from cropstyle.training.train import train

        train(
            args.datasets,
            args.out,
            resume=args.resume,
            epochs=args.epochs,
            batch_size=args.batch_size,
            image_size=args.image_size,
            arch=args.arch,
            weights=args.weights,
            val_split=args.val_split,
            seed=args.seed,
            loss=args.loss,
            mixed_precision=args.mixed_precision,
            flip_average=args.flip_average,
            ensemble=args.ensemble,
            start=args.start,
        )
        return 0  # train() prints its own summary
    if args.command == "evaluate":
        from cropstyle.training.evaluate import evaluate

        evaluate(args.run, args.datasets, args.out, include_seen=args.include_seen)
        return 0
    if args.command == "export":
        from cropstyle.export.webmodel import export_webmodel

        print(export_webmodel(args.run, args.out, args.quantize).report())
        return 0
    if args.command == "predict":
        from cropstyle.export.predict import format_predictions, predict

        if args.top > 1 and not args.aspect:
            raise ValueError("--top ranks the crops of each --aspect: give --aspect W:H[,W:H...] with it")

        predictions = predict(
            args.run,
            args.paths,
            aspects=args.aspect,
            write_cropped=args.write_cropped,
            batch_size=args.batch_size,
            jobs=args.jobs,
            top=args.top,
        )
        print(format_predictions(predictions, args.format))
        failed = [p for p in predictions if p.cropped_error]
        for prediction in failed:
            print(
                f"cropstyle: could not write the cropped {prediction.source}: {prediction.cropped_error}",
                file=sys.stderr,
            )
        return 1 if failed else 0
    if args.command == "apply":
        from cropstyle.export.apply import apply

        summary = apply(
            args.run,
            args.paths,
            dry_run=args.dry_run,
            force=args.force,
            in_place=args.in_place,
            batch_size=args.batch_size,
            jobs=args.jobs,
            catalog=args.catalog,
            remap=args.remap,
            new_sidecars=args.new_sidecars,
            editor=args.editor,
            min_confidence=args.min_confidence,
        )
        print(summary.report())
        return 1 if summary.counts["failed"] else 0
    if args.command == "serve":
        from cropstyle.web.server import serve
        from cropstyle.web.settings import read_token

        settings = ServeSettings(
            store=args.store,
            model=None if args.model == "none" else str(resolve_run(args.model)),
            token=read_token(args.token, args.token_file, dict(os.environ)),
            rate_per_minute=args.rate_limit,
            trusted_proxies=args.trusted_proxy,
            allowed_hosts=args.allowed_host,
            host=args.host,
            port=args.port,
            workers=args.workers,
            header_timeout=args.header_timeout,
            body_timeout=args.body_timeout,
            max_connections=args.max_connections,
        )
        serve(settings, log_level="warning" if args.quiet else "info")
        return 0
    if args.command == "collected":
        from cropstyle.web.collected import collected

        print(collected(args.store, args.out, size=args.size).report())
        return 0
    raise AssertionError(f"unhandled command {args.command}")


# The commands that load TensorFlow: its C++ start-up logging stays out of their output unless --debug.
TENSORFLOW_COMMANDS = {"train", "evaluate", "export", "predict", "apply"}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command in TENSORFLOW_COMMANDS and not args.debug:
            from cropstyle.training.quiet_tensorflow import import_tensorflow_quietly

            import_tensorflow_quietly()
        return run(args)
    except KeyboardInterrupt:
        print("cropstyle: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # one line for users, the traceback with --debug
        if args.debug:
            raise
        print(f"cropstyle: {error}", file=sys.stderr)
        return 2


def entry() -> None:
    """The `cropstyle` program. A Ctrl-C during the command exits 130 (main); once it is done, the
    interpreter's shutdown (about 0.1 s) would swallow a late one and exit 0, so from then on SIGINT
    ends the process the default way (the shell reports 130 too)."""
    code = main()
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    sys.exit(code)


if __name__ == "__main__":
    entry()
