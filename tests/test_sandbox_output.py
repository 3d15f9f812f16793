"""The output cap: head and tail kept, the middle cut and marked, both streams in one budget."""

from __future__ import annotations

from nanotui.security.sandbox.output import MARKER_ROOM, Budget, HeadTail, finish


def _capture(limit: int, *writes: tuple[int, bytes]) -> tuple[list[bytes], bool]:
    budget = Budget(limit)
    streams = [HeadTail(budget), HeadTail(budget)]
    for index, chunk in writes:
        streams[index].add(chunk)
    return finish(streams, limit)


def test_output_within_the_cap_is_kept_whole_even_past_the_head_budget() -> None:
    (out, err), truncated = _capture(100, (0, b"a" * 70), (1, b"b" * 30))
    assert (out, err, truncated) == (b"a" * 70, b"b" * 30, False)


def test_long_output_keeps_head_and_tail_and_says_how_much_was_cut() -> None:
    data = b"HEAD" + b"." * 10_000 + b"TAIL"
    (out, err), truncated = _capture(
        1000, *[(0, data[i : i + 97]) for i in range(0, len(data), 97)]
    )
    assert truncated and err == b""
    assert out.startswith(b"HEAD") and out.endswith(b"TAIL")
    assert len(out) <= 1000
    cut = int(out.split(b"[... ")[1].split(b" bytes cut")[0])
    kept = len(out) - len(f"\n[... {cut} bytes cut ...]\n")
    assert kept + cut == len(data)


def test_both_streams_share_one_cap_and_each_keeps_its_end() -> None:
    (out, err), truncated = _capture(
        2000, (0, b"o" * 5000 + b"OUT-END"), (1, b"e" * 5000 + b"ERR-END")
    )
    assert truncated
    assert len(out) + len(err) <= 2000
    assert out.startswith(b"o") and out.endswith(b"OUT-END")
    assert err.endswith(b"ERR-END") and b"bytes cut" in err


def test_a_short_stream_gives_its_room_to_the_long_one() -> None:
    (out, err), truncated = _capture(1000, (1, b"tiny error\n"), (0, b"x" * 50_000))
    assert truncated and err == b"tiny error\n"
    assert len(out) >= 1000 - len(err) - 2 * MARKER_ROOM
