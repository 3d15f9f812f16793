"""What an editor or `run --json` is sent of a streamed reply is what redacting the whole reply
gives, however the model cut it into pieces, while words still arrive as they come."""

from __future__ import annotations

import pytest

from nanotui.protocol.reply_stream import ReplyStream
from nanotui.security.secrets.redaction import session_redactor

# Built here, not written out: the project's own files must have nothing to redact.
KNOWN_SECRET = "-".join(["s3cr3t", "v4lue", "from", "env"])
PASSWORD, API_KEY = "pass" + "word", "API_" + "KEY"
PRIVATE_KEY = "PRIVATE" + " KEY-----"
KEY_BODY = "MIIEowIBAAKCAQEA1234567890abcdefghijklmnopqrstuvwxyzABCDEFGH\n" * 4
REPLIES = {
    "a token": f"Your token is ghp_{'a' * 36} for now.\nNext line",
    "assignments": f'{PASSWORD} = "{"hunter2" * 2}x"\n{API_KEY}=sk-{"abcdefghij" * 3}\n',
    "a private key": f"Here:\n-----BEGIN RSA {PRIVATE_KEY}\n{KEY_BODY}"
    f"-----END RSA {PRIVATE_KEY}\ndone",
    "a known secret": f"The key is {KNOWN_SECRET}, as set.",
}


def redact(text: str) -> str:
    return session_redactor([KNOWN_SECRET]).redact(text).text


@pytest.mark.parametrize("reply", REPLIES.values(), ids=REPLIES.keys())
@pytest.mark.parametrize("size", [1, 3, 4, 1000])
def test_a_reply_sent_in_pieces_is_redacted_as_the_whole_reply(reply: str, size: int) -> None:
    stream = ReplyStream(redact)
    sent = [stream.add(reply[i : i + size]) for i in range(0, len(reply), size)]
    assert "".join(sent) + stream.end() == redact(reply)


def test_each_word_goes_out_once_the_space_after_it_came() -> None:
    stream = ReplyStream(redact)
    assert [stream.add(piece) for piece in ("Hel", "lo wo", "rld", "\n")] == [
        "",
        "Hello ",
        "",
        "world\n",
    ]
    assert stream.end() == ""


def test_a_very_long_line_is_redacted_whole_at_a_bounded_number_of_redactions() -> None:
    """Minified JSON, a wide table: one line of 80,000 characters sent four at a time, with
    secrets in its middle and at its end. Redacting the line so far at every piece would
    redact 20,000 times (quadratic: seconds of a front end's loop); words wait instead."""
    token = f"ghp_{'d' * 36}"
    words = [f"item{n}" for n in range(12_000)]
    words[6_000] = token
    reply = " ".join(words) + f" {KNOWN_SECRET}"
    calls = 0

    def counted(text: str) -> str:
        nonlocal calls
        calls += 1
        return redact(text)

    stream = ReplyStream(counted)
    sent = "".join(stream.add(reply[i : i + 4]) for i in range(0, len(reply), 4))
    assert sent + stream.end() == redact(reply)
    assert token not in sent and KNOWN_SECRET not in sent
    assert calls < 600, calls
