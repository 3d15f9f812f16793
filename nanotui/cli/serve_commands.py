"""`nanotui serve`: run the team service, and the admin's commands for its accounts and
projects (run on the server's machine; they open its database directly)."""

from __future__ import annotations

import argparse
import ipaddress
import sys
from pathlib import Path

from nanotui.cli.workspace import UserError


def record_admin_action(what: str) -> None:
    from nanotui.server.service_log import record_admin_action as record

    record(what)


LOOPBACK_NAMES = {"localhost"}


def _engine(args: argparse.Namespace):
    from nanotui.config_loading import load_settings
    from nanotui.server.store import open_database

    return open_database(args.database_url or load_settings().settings.server.database_url)


def _limits(args: argparse.Namespace) -> dict[str, float | int | None]:
    names = ("session_usd", "day_usd", "month_usd", "rpm", "tpm")
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def cmd_serve(args: argparse.Namespace) -> int:
    tls = args.certfile is not None
    if (args.certfile is None) != (args.keyfile is None):
        raise UserError("--certfile and --keyfile go together.")
    if not is_loopback(args.host) and not tls:
        if not args.insecure:
            raise UserError(
                f"Serving on {args.host} without TLS would send tokens in clear; pass "
                "--certfile and --keyfile, or --insecure if something in front adds TLS."
            )
        print(f"nanotui: warning: serving on {args.host} without TLS.", file=sys.stderr)
    import uvicorn

    from nanotui.config_loading import load_settings
    from nanotui.server.app import LOOPBACK_HOSTS, create_app

    settings = load_settings().settings
    engine = _engine(args)
    # Answer only to the names the service is reached by (against DNS rebinding).
    hosts = LOOPBACK_HOSTS | {args.host, *args.allow_host} if is_loopback(args.host) else None
    scheme = "https" if tls else "http"
    replica = (
        args.replica_url or settings.server.replica_url or f"{scheme}://{args.host}:{args.port}"
    )
    app = create_app(engine, settings, hosts=hosts, replica_url=replica)
    print(f"nanotui serve: listening on {scheme}://{args.host}:{args.port}", file=sys.stderr)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        ssl_certfile=args.certfile,
        ssl_keyfile=args.keyfile,
        log_level="warning",
        # Open event streams would hold a stop for ever; after this, they are cut.
        timeout_graceful_shutdown=5,
    )
    return 0


def cmd_user_add(args: argparse.Namespace) -> int:
    from nanotui.server.accounts import add_user

    token = add_user(
        _engine(args),
        args.name,
        admin=args.admin,
        project_names=args.project,
        limits=_limits(args),
    )
    record_admin_action(f"added user {args.name}" + (" (admin)" if args.admin else ""))
    print(token)
    print(
        f"Token for {args.name}: shown once, kept only as a salted hash; give it to them "
        "as NANOTUI_TOKEN.",
        file=sys.stderr,
    )
    return 0


def cmd_user_list(args: argparse.Namespace) -> int:
    from nanotui.server.accounts import list_users

    for account in list_users(_engine(args)):
        state = "revoked" if account.revoked else ("admin" if account.admin else "user")
        limits = ", ".join(f"{k}={v}" for k, v in account.limits.items() if v is not None)
        projects = ", ".join(account.projects) or "no projects"
        print(f"{account.name}\t{state}\t{projects}\t{limits or 'no limits'}")
    return 0


def cmd_user_revoke(args: argparse.Namespace) -> int:
    from nanotui.server.accounts import revoke_user

    revoke_user(_engine(args), args.name)
    record_admin_action(f"revoked user {args.name}")
    print(f"Revoked {args.name}: their token is refused from now on.", file=sys.stderr)
    return 0


def cmd_user_limits(args: argparse.Namespace) -> int:
    from nanotui.server.accounts import set_limits

    set_limits(_engine(args), args.name, _limits(args))
    record_admin_action(f"set limits of {args.name}: {_limits(args)}")
    return 0


def cmd_project_add(args: argparse.Namespace) -> int:
    from nanotui.server.accounts import add_project

    folder = add_project(_engine(args), args.name, Path(args.path))
    record_admin_action(f"added project {args.name} at {folder}")
    print(f"Project {args.name}: {folder}", file=sys.stderr)
    return 0


def add_serve_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    serve = sub.add_parser("serve", help="the team service and its accounts (on the server)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    serve.add_argument("--certfile", help="TLS certificate (PEM)")
    serve.add_argument("--keyfile", help="TLS private key (PEM)")
    serve.add_argument(
        "--insecure", action="store_true", help="allow a non-loopback address without TLS"
    )
    serve.add_argument(
        "--database-url",
        help="SQLAlchemy URL of the service's database (default: [server] database_url, "
        "else SQLite in the state folder)",
    )
    serve.add_argument(
        "--replica-url",
        help="this replica's URL as clients reach it, for replicas sharing a database "
        "(default: [server] replica_url, else http(s)://HOST:PORT)",
    )
    serve.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="another Host name clients reach a loopback service by (e.g. behind a proxy)",
    )
    serve.set_defaults(handler=cmd_serve)
    actions = serve.add_subparsers(dest="serve_command", metavar="{user,project}")

    user = actions.add_parser("user", help="accounts: add, list, revoke, limits")
    user_actions = user.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    add = user_actions.add_parser("add", help="make an account; prints its token once")
    add.add_argument("name")
    add.add_argument("--admin", action="store_true", help="may see every user and session")
    add.add_argument("--project", action="append", default=[], help="a project it may use")
    _limit_flags(add)
    add.set_defaults(handler=cmd_user_add)
    ulist = user_actions.add_parser("list", help="every account, its projects and limits")
    ulist.set_defaults(handler=cmd_user_list)
    revoke = user_actions.add_parser("revoke", help="refuse an account's token from now on")
    revoke.add_argument("name")
    revoke.set_defaults(handler=cmd_user_revoke)
    limits = user_actions.add_parser("limits", help="change an account's limits")
    limits.add_argument("name")
    _limit_flags(limits)
    limits.set_defaults(handler=cmd_user_limits)

    project = actions.add_parser("project", help="git repositories users may work on")
    project_actions = project.add_subparsers(
        dest="project_command", metavar="ACTION", required=True
    )
    padd = project_actions.add_parser("add", help="register a git repository as NAME")
    padd.add_argument("name")
    padd.add_argument("path")
    padd.set_defaults(handler=cmd_project_add)
    # Accepted after the action too (`serve user list --database-url URL`); SUPPRESS keeps
    # the value given before it when absent here.
    for parser in (add, ulist, revoke, limits, padd):
        parser.add_argument("--database-url", default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def _limit_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--session-usd", type=float, help="most one session may spend")
    parser.add_argument("--day-usd", type=float, help="most a day may spend")
    parser.add_argument("--month-usd", type=float, help="most a month may spend")
    parser.add_argument("--rpm", type=int, help="API requests per minute")
    parser.add_argument("--tpm", type=int, help="model tokens per minute")
