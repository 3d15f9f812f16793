"""The command line's entry point: parse, run the command's handler, and turn what the user
can fix into one sentence and an exit code."""

from __future__ import annotations

import sys

from nanotui.cli.parser import build_parser
from nanotui.protocol.basics import UserFacingError


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except UserFacingError as exc:  # config, provider set-up, a session not found, ...
        print(f"nanotui: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("nanotui: interrupted.", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`nanotui audit show X | head`): not an error worth a traceback.
        sys.stderr.close()
        return 0
    except OSError as exc:
        # State folders that cannot be created or read (NANOTUI_HOME pointing at a file, ...).
        where = f" ({exc.filename})" if exc.filename else ""
        print(
            f"nanotui: {exc.strerror or exc}{where}; check NANOTUI_HOME and its folders.",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
