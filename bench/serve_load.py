"""Load on the team service: users x concurrent sessions, each approving through the API,
on one replica with SQLite and on two replicas sharing PostgreSQL, in the same run.

    python bench/serve_load.py [--users 10] [--sessions 4] [--turns 3] [--local-runs 5]

Starts the real `nanotui serve` (child processes on free loopback ports) against the
scripted model server (tests/fake_model_server.py, answering each request from what it
asks: a file write first, then a closing line), on a real git project. Every session, in
ask mode, writes one file per turn; its approval is answered through the API. With two
replicas, a user's sessions alternate between them (as a load balancer with affinity would
place them) and a throwaway PostgreSQL cluster holds what they share. Prints JSON, for each
set-up:

- sessions completed, turns done and turns stopped by a budget (each user's day budget is
  set below what their sessions would spend, on purpose);
- events lost: gaps in each session's event ids as followed over SSE (must be 0);
- budget overspend: the most any user's ledger passed their day budget (must be 0);
- approval round trip p50/p99: from sending the answer to its `approval_resolved` event;
- turns per second, and (for two replicas) against one;
- the server's peak RSS;
- `target`: whether no event was lost and no budget overspent on either set-up (the app's
  own targets are in `app.target`);

then the overhead of one session over the server against the same session run locally
(`nanotui run` and `nanotui run --server`, interleaved, medians), and the full-screen app
on a server session against the local app (bench/serve_load_tui.py): its first frame,
the main screen ready, and the rate a long reply streams at.

Bounded: a fixed number of users, sessions and turns, a deadline per session, and the
server's process group killed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from fake_model_server import FakeModelServer, RecordedRequest, Reply, openai_reply  # noqa: E402
from postgres_support import throwaway_cluster  # noqa: E402
from serve_load_tui import compare_apps  # noqa: E402
from serve_support import BIN, git_project, nanotui, running_server  # noqa: E402

DAY_USD = 0.10
"""Each user's day budget: below what their sessions would spend at the price below."""
CONFIG = """
[provider]
base_url = "{base_url}"
model = "bench-model"
max_output_tokens = 1000

[approval]
mode = "auto-edit"

[rate_limit]
requests_per_minute = 0   # measure the service, not the model's limiter (60/min by default)

[prices."bench-model"]
input_per_mtok = 10
output_per_mtok = 10
"""


def respond(request: RecordedRequest) -> Reply:
    """A write of the file the prompt names, then, once its result is back, one line."""
    messages = request.body.get("messages", [])
    if messages and messages[-1].get("role") == "tool":
        return openai_reply(text="Written.", usage=dict(prompt=100, completion=1000))
    prompt = next(m["content"] for m in reversed(messages) if m.get("role") == "user")
    name = str(prompt).split()[-1]
    return openai_reply(
        tool_calls=[("write_file", {"path": name, "content": f"{name}\n"})],
        usage=dict(prompt=100, completion=20),
    )


async def one_session(
    client: httpx.AsyncClient, user: str, index: int, turns: int, stats: dict
) -> None:
    made = await client.post("/v1/sessions", json={"project": "web", "mode": "ask"})
    made.raise_for_status()
    sid = made.json()["id"]
    seen: list[int] = []
    for turn in range(turns):
        sent = await client.post(
            f"/v1/sessions/{sid}/messages", json={"text": f"write {user}-{index}-{turn}.txt"}
        )
        if sent.status_code == 402:
            stats["refused_402"] += 1
            break
        sent.raise_for_status()
        answered_at: dict[str, float] = {}
        headers = {"Last-Event-ID": str(sent.json()["after"])}
        async with client.stream("GET", f"/v1/sessions/{sid}/events", headers=headers) as stream:
            event_id = None
            async for line in stream.aiter_lines():
                if line.startswith("id: "):
                    event_id = int(line[4:])
                    seen.append(event_id)
                if not line.startswith("data: "):
                    continue
                event = json.loads(line[6:])
                if event["type"] == "approval_requested":
                    call = event["call_id"]
                    answered_at[call] = time.perf_counter()
                    answer = await client.post(
                        f"/v1/sessions/{sid}/approvals/{call}", json={"decision": "approve"}
                    )
                    answer.raise_for_status()
                elif event["type"] == "approval_resolved" and event["call_id"] in answered_at:
                    waited = time.perf_counter() - answered_at.pop(event["call_id"])
                    stats["round_trips"].append(waited)
                elif event["type"] == "result":
                    stats["turns_" + ("budget" if event["status"] == "budget" else "done")] += 1
                    break
    # Ids of the events followed, turn after turn: every id from the first on, none twice.
    if seen:
        stats["events_lost"] += (seen[-1] - seen[0] + 1) - len(set(seen))
        stats["events_repeated"] += len(seen) - len(set(seen))
    await client.post(f"/v1/sessions/{sid}/close")
    stats["sessions_completed"] += 1


def peak_rss(pid_of: Callable[[], int], stop: threading.Event, into: list[int]) -> None:
    while not stop.is_set():
        try:
            status = Path(f"/proc/{pid_of()}/status").read_text()
            kb = int(
                next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1]
            )
            into.append(kb)
        except (OSError, StopIteration, ValueError):
            pass
        stop.wait(0.2)


def server_pid(port: int) -> int:
    """The pid of the `nanotui serve` listening on `port` (its process, not a wrapper)."""
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                cmd = Path(entry.path, "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"serve" in cmd and str(port).encode() in cmd:
                return int(entry.name)
    raise RuntimeError("the server's process was not found")


def timed(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{argv[:3]} failed: {done.stderr.strip()}")
    return time.perf_counter() - started


def add_users(home: Path, count: int, database: list[str]) -> dict[str, str]:
    """Users u0.. with the web project, a day budget below what they will try to spend, and
    no request limit of their own; their tokens."""
    tokens = {}
    for i in range(count):
        made = nanotui(
            home,
            "serve",
            "user",
            "add",
            f"u{i}",
            "--project",
            "web",
            "--day-usd",
            str(DAY_USD),
            "--rpm",
            "100000",
            *database,
        )
        tokens[f"u{i}"] = made.stdout.strip()
    return tokens


def run_load(urls: list[str], tokens: dict[str, str], args: argparse.Namespace) -> dict:
    """Every user's sessions at once, session j on replica j % len(urls); the figures."""
    stats: dict = {
        "sessions_completed": 0,
        "turns_done": 0,
        "turns_budget": 0,
        "refused_402": 0,
        "events_lost": 0,
        "events_repeated": 0,
        "round_trips": [],
    }
    pids = [server_pid(int(url.rsplit(":", 1)[1])) for url in urls]
    rss: dict[int, list[int]] = {pid: [] for pid in pids}
    stop = threading.Event()
    watchers = [
        threading.Thread(target=peak_rss, args=(lambda p=pid: p, stop, rss[pid])) for pid in pids
    ]
    for watcher in watchers:
        watcher.start()

    async def load() -> float:
        clients = {
            (user, replica): httpx.AsyncClient(
                base_url=url,
                headers={"Authorization": f"Bearer {token}"},
                timeout=httpx.Timeout(60.0, read=120.0),
            )
            for user, token in tokens.items()
            for replica, url in enumerate(urls)
        }
        started = time.perf_counter()
        try:
            await asyncio.wait_for(
                asyncio.gather(
                    *(
                        one_session(clients[user, j % len(urls)], user, j, args.turns, stats)
                        for user in tokens
                        for j in range(args.sessions)
                    )
                ),
                timeout=600,
            )
        finally:
            for client in clients.values():
                await client.aclose()
        return time.perf_counter() - started

    try:
        elapsed = asyncio.run(load())
    finally:
        stop.set()
        for watcher in watchers:
            watcher.join()
    overspend = 0.0
    for token in tokens.values():
        for url in urls:  # every replica must see the same spending
            spend = httpx.get(f"{url}/v1/spend", headers={"Authorization": f"Bearer {token}"})
            overspend = max(overspend, (spend.json()["today_usd"] or 0.0) - DAY_USD)
    trips = sorted(stats.pop("round_trips"))
    return {
        "replicas": len(urls),
        **stats,
        "sessions_started": len(tokens) * args.sessions,
        "budget_overspend_usd": round(max(0.0, overspend), 6),
        "approval_round_trip_p50_ms": round(1000 * trips[len(trips) // 2], 1),
        "approval_round_trip_p99_ms": round(
            1000 * trips[min(len(trips) - 1, int(len(trips) * 0.99))], 1
        ),
        "approvals": len(trips),
        "load_seconds": round(elapsed, 2),
        "turns_per_second": round((stats["turns_done"] + stats["turns_budget"]) / elapsed, 2),
        "server_peak_rss_mb": [round(max(r) / 1024, 1) if r else None for r in rss.values()],
    }


def service_home(tmp: Path, name: str, model: FakeModelServer) -> Path:
    home = tmp / name
    home.mkdir()
    (home / "config.toml").write_text(CONFIG.format(base_url=model.openai_base_url))
    return home


def one_session_overhead(
    tmp: Path, model: FakeModelServer, home: Path, url: str, token: str, runs: int
) -> dict:
    """One session locally and over the server, interleaved: medians and their ratio."""
    local_home = service_home(tmp, "local-home", model)
    local_env = {**os.environ, "NANOTUI_HOME": str(local_home)}
    local_project = git_project(tmp / "local-web")
    remote_env = {**os.environ, "NANOTUI_TOKEN": token}
    nanotui(home, "serve", "user", "limits", "u0", "--day-usd", "100")
    local_times, remote_times = [], []
    for k in range(runs):
        prompt = f"write overhead-{k}.txt"
        argv = [str(BIN / "nanotui"), "run", "--mode", "auto-edit", prompt]
        local_times.append(timed(argv, local_env, local_project))
        remote_times.append(timed([*argv[:2], "--server", url, *argv[2:]], remote_env, tmp))
    local, remote = statistics.median(local_times), statistics.median(remote_times)
    return {
        "one_session_local_s": round(local, 3),
        "one_session_over_server_s": round(remote, 3),
        "server_overhead_ratio": round(remote / local, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--local-runs", type=int, default=5)
    parser.add_argument("--app-runs", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder, FakeModelServer() as model:
        tmp = Path(folder)
        model.responder = respond
        project = git_project(tmp / "web")

        # One replica, SQLite.
        home = service_home(tmp, "server-home", model)
        nanotui(home, "serve", "project", "add", "web", str(project))
        tokens = add_users(home, args.users, [])
        with running_server(home) as url:
            single = run_load([url], tokens, args)
            overhead = one_session_overhead(tmp, model, home, url, tokens["u0"], args.local_runs)
            model.responder = None
            apps = compare_apps(tmp, model, url, tokens["u0"], runs=args.app_runs)
            model.responder = respond

        # Two replicas, one PostgreSQL.
        with throwaway_cluster() as database_url:
            flag = ["--database-url", database_url]
            homes = [service_home(tmp, f"replica-{i}", model) for i in range(2)]
            nanotui(homes[0], "serve", "project", "add", "web", str(project), *flag)
            shared_tokens = add_users(homes[0], args.users, flag)
            with (
                running_server(homes[0], *flag) as first,
                running_server(homes[1], *flag) as second,
            ):
                double = run_load([first, second], shared_tokens, args)
        double["turns_per_second_vs_one_sqlite"] = round(
            double["turns_per_second"] / single["turns_per_second"], 2
        )

    # The targets: nothing lost, nothing spent past a budget, on either set-up.
    kept = all(s["events_lost"] == 0 and s["budget_overspend_usd"] == 0 for s in (single, double))
    print(
        json.dumps(
            {
                "users": args.users,
                "sessions_per_user": args.sessions,
                "turns_per_session": args.turns,
                "one_replica_sqlite": single,
                "two_replicas_postgresql": double,
                **overhead,
                "app": apps,
                "target": {"events_lost": 0, "budget_overspend_usd": 0, "met": kept},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
