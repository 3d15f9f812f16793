"""Posting a review to GitHub (a loopback stand-in for its API) and reading the pull request
from a workflow's event file."""

from __future__ import annotations

import json
import socket
import traceback
from pathlib import Path

import pytest
from fake_github_api import REVIEW_PAGE, FakeGitHub

from nanotui.protocol.basics import UserFacingError
from nanotui.review.github import (
    GitHubError,
    PullRequest,
    post_review,
    pull_request_from_environment,
    token_from_environment,
)

TOKEN = "ghs_" + "A1b2C3d4E5" * 4
REVIEW = {
    "commit_id": "0123456789abcdef0123456789abcdef01234567",
    "event": "COMMENT",
    "body": "nanotui found 2 problems.",
    "comments": [
        {
            "path": "app.py",
            "line": 12,
            "side": "RIGHT",
            "body": "**high**: the file is never closed.",
        },
        {
            "path": "lib/util.py",
            "start_line": 3,
            "line": 5,
            "side": "RIGHT",
            "start_side": "RIGHT",
            "body": "```suggestion\nreturn None\n```",
        },
    ],
}
OFF_DIFF = {
    "message": "Unprocessable Entity",
    "errors": [
        "Pull request review thread line must be part of the diff and Pull request review "
        "thread diff hunk can't be blank"
    ],
    "documentation_url": "https://docs.github.com/rest/pulls/reviews#create-a-review",
}


def _post(github: FakeGitHub, api_url: str | None = None) -> str:
    return post_review(
        REVIEW, repository="o/r", number=7, token=TOKEN, api_url=api_url or github.url
    )


def _no_token_in(error: BaseException) -> None:
    shown = "".join(traceback.format_exception(error))
    for text in (str(error), repr(error), repr(error.args), shown):
        assert TOKEN not in text


# Posting


def test_one_post_with_github_headers_and_the_review_as_given() -> None:
    with FakeGitHub() as github:
        assert _post(github) == REVIEW_PAGE
    [call] = github.requests
    assert (call.method, call.path) == ("POST", "/repos/o/r/pulls/7/reviews")
    assert call.headers["authorization"] == f"Bearer {TOKEN}"
    assert call.headers["accept"] == "application/vnd.github+json"
    assert call.headers["x-github-api-version"] == "2022-11-28"
    assert call.headers["user-agent"].startswith("nanotui/")
    assert call.body == REVIEW


@pytest.mark.parametrize("prefix", ["/api/v3", "/api/v3/"])
def test_an_enterprise_api_url_keeps_its_prefix_without_double_slashes(prefix: str) -> None:
    with FakeGitHub() as github:
        _post(github, github.url + prefix)
    assert [call.path for call in github.requests] == ["/api/v3/repos/o/r/pulls/7/reviews"]


def test_comments_off_the_diff_are_sent_again_once_in_the_body() -> None:
    with FakeGitHub() as github:
        github.enqueue(422, OFF_DIFF)
        assert _post(github) == REVIEW_PAGE
    first, second = github.requests
    assert first.body == REVIEW
    assert second.path == first.path
    assert second.body == {
        "commit_id": REVIEW["commit_id"],
        "event": "COMMENT",
        "body": "nanotui found 2 problems.\n\n"
        "**Comments GitHub would not place on the diff:**\n\n"
        "`app.py` line 12:\n\n**high**: the file is never closed.\n\n"
        "`lib/util.py` line 3-5:\n\n```suggestion\nreturn None\n```",
    }


def test_a_second_refusal_is_not_retried() -> None:
    with FakeGitHub() as github:
        github.enqueue(422, OFF_DIFF)
        github.enqueue(422, {"message": "Line could not be resolved"})
        with pytest.raises(GitHubError) as caught:
            _post(github)
    assert len(github.requests) == 2
    assert caught.value.status == 422
    assert "Line could not be resolved" in str(caught.value)


def test_another_422_is_not_retried() -> None:
    answer = {
        "message": "Unprocessable Entity",
        "errors": ["Pull request review thread start line must precede the end line."],
    }
    with FakeGitHub() as github:
        github.enqueue(422, answer)
        with pytest.raises(GitHubError, match="start line must precede") as caught:
            _post(github)
    assert len(github.requests) == 1
    assert "422" in str(caught.value)


@pytest.mark.parametrize(
    ("status", "message", "hint"),
    [
        (401, "Bad credentials", "check the token"),
        (403, "Resource not accessible by integration", "pull-requests: write"),
        (403, "You have exceeded a secondary rate limit", "the review was not posted"),
        (404, "Not Found", "check the repository"),
    ],
)
def test_a_refusal_is_one_sentence_with_githubs_message_and_never_the_token(
    status: int, message: str, hint: str
) -> None:
    with FakeGitHub() as github:
        # As a careless proxy might: the token echoed back in the error.
        github.enqueue(status, {"message": f"{message} for Bearer {TOKEN}"})
        with pytest.raises(GitHubError) as caught:
            _post(github)
    error = caught.value
    assert error.status == status
    assert str(error).startswith(f"GitHub refused the review ({status}: {message} for Bearer ")
    assert hint in str(error) and str(error).endswith(".")
    assert isinstance(error, UserFacingError)
    _no_token_in(error)


def test_no_answer_is_one_sentence_without_the_token() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(GitHubError, match=r"^Could not reach GitHub at http://127") as caught:
        post_review(
            REVIEW, repository="o/r", number=7, token=TOKEN, api_url=f"http://127.0.0.1:{port}"
        )
    assert caught.value.status is None
    _no_token_in(caught.value)


def test_an_api_url_that_is_no_url_is_one_sentence() -> None:
    with pytest.raises(GitHubError, match="check GITHUB_API_URL") as caught:
        post_review(REVIEW, repository="o/r", number=7, token=TOKEN, api_url="ghe.example/api/v3")
    _no_token_in(caught.value)


def test_a_repository_that_is_not_owner_slash_name_is_refused_before_any_call() -> None:
    with pytest.raises(UserFacingError, match="owner/name"):
        post_review(REVIEW, repository="o/r/../x", number=7, token=TOKEN, api_url="http://x")


def test_the_token_comes_from_github_token_then_gh_token() -> None:
    assert token_from_environment({"GITHUB_TOKEN": "a", "GH_TOKEN": "b"}) == "a"
    assert token_from_environment({"GITHUB_TOKEN": " ", "GH_TOKEN": "b\n"}) == "b"
    assert token_from_environment({"HOME": "/root"}) is None


# The event file

PULL_REQUEST_EVENT = {
    "action": "synchronize",
    "number": 7,
    "pull_request": {
        "url": "https://api.github.com/repos/o/r/pulls/7",
        "html_url": "https://github.com/o/r/pull/7",
        "number": 7,
        "state": "open",
        "title": "Close the file in app.py",
        "body": "It leaked a handle.\r\n\r\nFixes #3.",
        "user": {"login": "someone", "type": "User"},
        "head": {
            "label": "someone:fix",
            "ref": "fix",
            "sha": "0123456789abcdef0123456789abcdef01234567",
            "repo": {"full_name": "someone/r"},
        },
        "base": {
            "label": "o:main",
            "ref": "main",
            "sha": "fedcba9876543210fedcba9876543210fedcba98",
            "repo": {"full_name": "o/r"},
        },
        "draft": False,
    },
    "repository": {"full_name": "o/r", "default_branch": "main"},
    "sender": {"login": "someone"},
}


def _environment(tmp_path: Path, event: object, **more: str) -> dict[str, str]:
    path = tmp_path / "event.json"
    path.write_text(event if isinstance(event, str) else json.dumps(event), encoding="utf-8")
    return {"GITHUB_EVENT_PATH": str(path), "GITHUB_EVENT_NAME": "pull_request", **more}


def test_the_pull_request_is_read_from_the_event_file(tmp_path: Path) -> None:
    environ = _environment(tmp_path, PULL_REQUEST_EVENT, GITHUB_REPOSITORY="o/r")
    assert pull_request_from_environment(environ) == PullRequest(
        repository="o/r",
        number=7,
        title="Close the file in app.py",
        body="It leaked a handle.\r\n\r\nFixes #3.",
        base_ref="main",
        head_sha="0123456789abcdef0123456789abcdef01234567",
    )


def test_a_null_body_is_empty_and_the_repository_can_come_from_the_event(tmp_path: Path) -> None:
    event = json.loads(json.dumps(PULL_REQUEST_EVENT))
    event["pull_request"]["body"] = None
    found = pull_request_from_environment(_environment(tmp_path, event))
    assert found is not None
    assert (found.body, found.repository) == ("", "o/r")


def test_outside_a_pull_request_event_there_is_none(tmp_path: Path) -> None:
    push = {"ref": "refs/heads/main", "after": "0" * 40, "repository": {"full_name": "o/r"}}
    environ = _environment(tmp_path, push, GITHUB_EVENT_NAME="push", GITHUB_REPOSITORY="o/r")
    assert pull_request_from_environment(environ) is None
    assert pull_request_from_environment({"GITHUB_REPOSITORY": "o/r"}) is None


@pytest.mark.parametrize(
    ("content", "said"),
    [
        ("{not json", "Could not read the GitHub event file"),
        ({"pull_request": {"number": 7, "title": "t"}}, "has no 'base'"),
        ({"pull_request": {**PULL_REQUEST_EVENT["pull_request"], "number": "7"}}, "wrong type"),
        ({"pull_request": "7", "repository": {"full_name": "o/r"}}, "wrong type"),
    ],
)
def test_a_malformed_event_file_is_one_sentence(tmp_path: Path, content: object, said: str) -> None:
    environ = _environment(tmp_path, content, GITHUB_REPOSITORY="o/r")
    with pytest.raises(UserFacingError, match=said) as caught:
        pull_request_from_environment(environ)
    assert str(caught.value).endswith(".")


def test_an_event_file_that_is_not_there_is_one_sentence(tmp_path: Path) -> None:
    environ = {"GITHUB_EVENT_PATH": str(tmp_path / "gone.json"), "GITHUB_REPOSITORY": "o/r"}
    with pytest.raises(UserFacingError, match=r"Could not read the GitHub event file .*gone\.json"):
        pull_request_from_environment(environ)
