"""What `nanotui run` prints in CI, where the log is public: nothing secret, no colour, one line
per step on stderr and a last line with the cost; and `--max-cost-usd` caps one run.

The planted secrets (an AWS key pair, a private key, a `.env` value) reach the output the only
way they can once tool results are redacted for the model: the model repeats them itself, in
its reply and in a tool call's arguments. Each is a real `nanotui run` in a child process,
stdout and stderr pipes (no terminal), CI=true, against the scripted model server.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

from fake_model_server import FakeModelServer, openai_reply
from serve_support import BIN

# Assembled at run time: no key-shaped literal sits in the repository.
AWS_ID = "AKIA" + "QWERTYUIOP" + "ASDFGH"
AWS_SECRET = "wJalr" + "XUtnFEMI/K7MDENG/bPxRfiCY" + "EXAMPLEKEY"
PRIVATE_BODY = "MIIEow" + "IBAAKCAQEA" + "x" * 60
KEY_KIND = "RSA " + "PRIVATE KEY"
PRIVATE_KEY = f"-----BEGIN {KEY_KIND}-----\n{PRIVATE_BODY}\n-----END {KEY_KIND}-----"
ENV_VALUE = "s3cr3t-" + "db-password-" + "9f8e7d"
SECRETS = (AWS_ID, AWS_SECRET, PRIVATE_BODY, ENV_VALUE)
LEAKY_REPLY = (
    f"The config holds aws_access_key_id = {AWS_ID} and\n"
    f"aws_secret_access_key = {AWS_SECRET}, the deploy key is\n{PRIVATE_KEY}\n"
    f"and .env says:\nDATABASE_PASSWORD={ENV_VALUE}\n"
)
ANSI = re.compile(r"\x1b\[")


def nanotui_run(home: Path, workspace: Path, model: FakeModelServer, *args: str):
    env = {
        **os.environ,
        "NANOTUI_HOME": str(home),
        "CI": "true",
        "TERM": "xterm-256color",  # a terminal type is set in CI; still no colour in pipes
    }
    env.pop("NO_COLOR", None)
    return subprocess.run(
        [
            str(BIN / "nanotui"),
            "run",
            "--base-url",
            model.openai_base_url,
            "--model",
            "test-model",
            "--workspace",
            str(workspace),
            *args,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def leaky_model(model: FakeModelServer) -> None:
    model.enqueue(
        openai_reply(
            LEAKY_REPLY,
            tool_calls=[("write_file", {"path": "leak.txt", "content": LEAKY_REPLY})],
        ),
        openai_reply(LEAKY_REPLY),
    )


def session_logs(home: Path) -> str:
    return "".join(p.read_text() for p in home.rglob("sessions/*.jsonl"))


def test_run_json_in_ci_prints_no_secret_the_model_repeats(
    tmp_path: Path, fake_server: FakeModelServer
) -> None:
    home, workspace = tmp_path / "home", tmp_path / "ws"
    workspace.mkdir()
    leaky_model(fake_server)
    done = nanotui_run(home, workspace, fake_server, "--json", "look at the config")
    assert done.returncode == 2, done.stderr  # the write needed an approval nobody gave
    assert "[REDACTED:" in done.stdout  # the reply and the proposed file were there
    # The reply comes a few characters per line: put together, as a reader would, too.
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    streamed = "".join(line["text"] for line in lines if line["type"] == "text_delta")
    assert "[REDACTED:" in streamed
    for secret in SECRETS:
        assert secret not in done.stdout, secret
        assert secret not in streamed, secret
        assert secret not in done.stderr, secret
        assert secret not in session_logs(home), secret
    assert not (workspace / "leak.txt").exists()


def test_readable_run_in_ci_is_plain_lines_ending_with_the_cost(
    tmp_path: Path, fake_server: FakeModelServer
) -> None:
    home, workspace = tmp_path / "home", tmp_path / "ws"
    workspace.mkdir()
    (workspace / "notes.txt").write_text("notes\n")
    fake_server.enqueue(
        openai_reply("Reading.", tool_calls=[("read_file", {"path": "notes.txt"})]),
        openai_reply(LEAKY_REPLY),
    )
    done = nanotui_run(home, workspace, fake_server, "summarize the notes")
    assert done.returncode == 0, done.stderr
    for secret in SECRETS:
        assert secret not in done.stdout + done.stderr, secret
    assert not ANSI.search(done.stdout + done.stderr), "colour codes in a CI log"
    assert "\r" not in done.stderr, "a progress line rewrites itself"
    lines = done.stderr.splitlines()
    assert lines[-1].startswith("[done] ") and "session" in lines[-1]
    assert "unpriced" in lines[-1] or "$" in lines[-1]  # the cost, as the money rule says
    assert any(line.startswith("  -> ") for line in lines)  # one line per step
    assert "[REDACTED:" in done.stdout  # the reply, printed whole once it ended


def test_max_cost_usd_caps_one_run_below_the_configured_budget(
    tmp_path: Path, fake_server: FakeModelServer
) -> None:
    home, workspace = tmp_path / "home", tmp_path / "ws"
    workspace.mkdir()
    home.mkdir()
    (home / "config.toml").write_text(
        '[prices."test-model"]\ninput_per_mtok = 10\noutput_per_mtok = 10\n'
        "[budget]\nsession_usd = 5.0\n"
    )
    fake_server.enqueue(openai_reply("Hello."))
    capped = nanotui_run(home, workspace, fake_server, "--max-cost-usd", "0.00001", "hi")
    assert capped.returncode == 3, capped.stderr  # the worst case passes the cap
    assert "budget" in capped.stderr.lower()
    assert not fake_server.requests, "a request was sent past the cap"
    refused = nanotui_run(home, workspace, fake_server, "--max-cost-usd", "0", "hi")
    assert refused.returncode == 1
    assert "--max-cost-usd must be more than 0." in refused.stderr
