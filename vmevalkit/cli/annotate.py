"""``vmevalkit annotate``: label an experiment's videos in the browser, blind, resumably, by keyboard.

1. Check the flags: the experiment folder, the annotator's name (it names their labels file), the seed (an
   earlier start's recorded seed is kept: the order must not change under a resuming annotator).
2. Plan the items (``vmevalkit.annotate.items``): every completed generation (rate) or every two models'
   videos of a task (pairwise), filtered, limited, in the annotator's seeded order.
3. Open the session (``vmevalkit.annotate.store``): take its lock, read the labels saved so far, record the seed.
4. Bind the socket before printing the address (``--port 0`` takes a free port), make a token when ``--host``
   is given, print where to go, and serve (uvicorn) until Ctrl-C.

Exit status: 0 when the server stops (Ctrl-C, SIGTERM): every label submitted is on disk by then;
2 on a usage error, reported in one ``error:`` line before anything is served.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from vmevalkit.cli.common import EXIT_OK, EXIT_USAGE, OUTPUT_DIR_HELP, error, experiment_folder, positive_int

HELP = "label videos in the browser (blind rating or pairwise comparison) for evaluate-scorers"
DESCRIPTION = (
    "Serve a local web page where a person labels an experiment's videos, blind and by keyboard: rate mode "
    "(solved yes/no, process quality 1-5, a note) or pairwise mode (two models' videos of one task: A, B or tie). "
    "Labels are saved as they are given to <output-dir>/<experiment>/annotations/<annotator>-<mode>.jsonl, "
    "in the format evaluate-scorers reads (--labels that folder). Docs: docs/SCORING.md, 'Human evaluation'."
)
DEFAULT_PORT = 8765
MODES = ("rate", "pairwise")  # vmevalkit.annotate.items.MODES, not imported to build the parser
REVEALS = ("after", "always", "never")  # vmevalkit.annotate.store.REVEALS


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0-65535 (0: any free port), got {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--annotator", required=True, metavar="NAME", help="who labels (names the labels file)")
    parser.add_argument("--mode", choices=MODES, default="rate", help="rate one video or compare two (default: rate)")
    parser.add_argument("--experiment", metavar="NAME", help="experiment to label (default: pilot)")
    parser.add_argument("--output-dir", metavar="DIR", help=OUTPUT_DIR_HELP)
    parser.add_argument(
        "--reveal",
        choices=REVEALS,
        default="after",
        help="when the task's answer frame is shown: after the first judgment (default), always, never; "
        "recorded in every label",
    )
    parser.add_argument(
        "--seed",
        type=int,
        help="order of the items (default: the seed this annotator's session recorded, else a random one)",
    )
    parser.add_argument("--model", nargs="+", metavar="NAME", help="only these models' videos")
    parser.add_argument("--domain", nargs="+", metavar="NAME", help="only these domains")
    parser.add_argument(
        "--limit",
        type=positive_int,
        metavar="N",
        help="at most N items: the same N for every annotator (so their agreement can be measured)",
    )
    parser.add_argument(
        "--dimension",
        default="task_success",
        metavar="NAME",
        help="pairwise mode: the dimension the preference is about (default: task_success)",
    )
    parser.add_argument(
        "--host",
        metavar="HOST",
        help="listen on HOST instead of 127.0.0.1 (e.g. 0.0.0.0): then every request needs the token printed at start",
    )
    parser.add_argument("--port", type=_port, default=DEFAULT_PORT, help=f"port (default: {DEFAULT_PORT}; 0: any free)")


def run(args: argparse.Namespace) -> int:
    from vmevalkit.annotate.store import AnnotateError, check_annotator
    from vmevalkit.settings import get_settings

    settings = get_settings()
    experiment_dir = experiment_folder(args, settings)
    if experiment_dir is None:
        return EXIT_USAGE
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        error("vmevalkit annotate needs its web server: pip install -e '.[annotate]'")
        return EXIT_USAGE
    try:
        check_annotator(args.annotator)
        return _serve(args, experiment_dir)
    except AnnotateError as exc:
        error(str(exc))
        return EXIT_USAGE


class _Stopped(Exception):
    """SIGTERM, once the server has stopped."""


def _stop(signum: int, frame: object) -> None:
    raise _Stopped


def _serve(args: argparse.Namespace, experiment_dir: Path) -> int:
    import secrets
    import signal
    import socket

    import uvicorn

    from vmevalkit.annotate.app import create_app
    from vmevalkit.annotate.items import plan_items
    from vmevalkit.annotate.store import AnnotateError, Session
    from vmevalkit.cli.common import shown
    from vmevalkit.scoring.runner import GenerationSelectionError

    recorded = Session.recorded_seed(experiment_dir, args.annotator, args.mode)
    if args.seed is not None and recorded is not None and args.seed != recorded:
        raise AnnotateError(
            f"{args.annotator}'s {args.mode} session recorded seed {recorded}: resume with it (leave --seed out), "
            "or label as another --annotator"
        )
    seed = args.seed if args.seed is not None else recorded if recorded is not None else secrets.randbelow(2**31)
    try:
        items = plan_items(experiment_dir, args.mode, seed, models=args.model, domains=args.domain, limit=args.limit)
    except (GenerationSelectionError, ValueError) as exc:
        raise AnnotateError(str(exc)) from None
    session = Session(experiment_dir, args.annotator, args.mode, seed, args.reveal, args.dimension)
    filters = {"models": args.model, "domains": args.domain, "limit": args.limit, "items": len(items)}
    session.open(filters)
    try:
        host = args.host or "127.0.0.1"
        try:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host.strip("[]"), args.port))
            sock.listen(128)  # before the address is printed: a browser that comes at once waits, is not refused
        except OSError as exc:
            raise AnnotateError(
                f"cannot listen on {host}:{args.port} ({exc.strerror or exc}): pass another --port (0: any free)"
            ) from None
        port = sock.getsockname()[1]
        token = secrets.token_urlsafe(24) if args.host else None
        shown_host = f"[{host.strip('[]')}]" if ":" in host else host
        done = session.done_count(items)
        answer = {"after": "after the first judgment", "always": "always", "never": "never"}[args.reveal]
        print(
            f"annotating {shown(experiment_dir.name)} as {args.annotator} ({args.mode}): {len(items)} item(s), "
            f"{done} done, seed {seed}, answer frame shown {answer}"
        )
        print(f"labels: {shown(session.labels_path)}")
        if token is None:
            print(f"open http://{shown_host}:{port}/   (Ctrl-C stops; every label is saved when it is given)")
        else:
            print(f"token: {token}   (every request needs it)")
            print(f"open http://{shown_host}:{port}/?token={token}   (Ctrl-C stops; every label is saved when given)")
        # uvicorn stops gracefully on SIGINT/SIGTERM, then raises the signal again for the handler it found:
        # Python's (KeyboardInterrupt) for SIGINT, and this one for SIGTERM, so both end here with exit 0, as does
        # a signal that comes before uvicorn listens for it.
        previous = signal.signal(signal.SIGTERM, _stop)
        try:
            config = uvicorn.Config(
                create_app(session, items, token),
                log_level="warning",
                access_log=False,  # an access log would hold the token of /?token=...
                lifespan="off",
            )
            uvicorn.Server(config).run(sockets=[sock])
        except (KeyboardInterrupt, _Stopped):
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
        print(f"stopped: {session.done_count(items)} of {len(items)} labelled in {shown(session.labels_path)}")
        return EXIT_OK
    finally:
        session.close()
