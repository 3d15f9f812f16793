"""A long reply is logged once: the session log of a 2 MB reply is not twice its size."""

from __future__ import annotations

from pathlib import Path

from fake_model_server import openai_reply
from run_support import of_type, run

from nanotui.cli.main import main

REPLY_CHARS = 2 * 1024 * 1024


def test_a_2_mb_reply_makes_a_log_under_1_2_times_its_size(
    fake_server, tmp_path: Path, home: Path, capsys, monkeypatch
) -> None:
    monkeypatch.setenv("NANOTUI_PROVIDER__MAX_OUTPUT_TOKENS", str(REPLY_CHARS))
    # The reply streams whole only if the request may be that long (it is cut off past that).
    monkeypatch.setenv("NANOTUI_BUDGET__MAX_TOKENS_PER_REQUEST", str(REPLY_CHARS))
    repo = tmp_path / "repo"
    repo.mkdir()
    reply = "".join(f"line {n:07d} of a long answer\n" for n in range(REPLY_CHARS // 30))
    fake_server.enqueue(openai_reply(text=reply, chunk_size=4096))
    code, events, err = run(fake_server, repo, capsys, "--mode", "full-auto", prompt="write")
    assert code == 0, (err, [e for e in events if e["type"] in ("error", "notice", "result")])
    (message,) = of_type(events, "assistant_message")
    assert message["text"] == reply  # the reply streamed whole
    (log,) = (home / "sessions").glob("*.jsonl")
    assert log.stat().st_size < 1.2 * len(reply.encode()), log.stat().st_size
    # The log still gives the reply back: to replay, and to a resumed conversation.
    from nanotui.engine.session import load_conversation

    conversation = load_conversation(log.stem)
    assert [m.content for m in conversation.messages if m.role == "assistant"] == [reply]
    capsys.readouterr()
    assert main(["audit", "replay", log.stem, "--json"]) == 0
    replayed = capsys.readouterr().out
    assert replayed.count("line 0000000 of a long answer") == 1
    assert main(["audit", "verify", log.stem]) == 0
