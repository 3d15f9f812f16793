"""GitHub's side of `nanotui review` in CI: which pull request this is, and posting the review.

Inside GitHub Actions the pull request comes from the event file (`GITHUB_EVENT_PATH`) and
the review goes back in one REST call (`POST /repos/{owner}/{repo}/pulls/{number}/reviews`)
to `GITHUB_API_URL`, which is GitHub Enterprise's `https://HOST/api/v3` there. The token is
read here and nowhere else; it never appears in an error, and the agent never sees it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from nanotui.protocol.basics import UserFacingError

DEFAULT_API_URL = "https://api.github.com"
TOKEN_VARIABLES = ("GITHUB_TOKEN", "GH_TOKEN")
"""Where the token may be, first found wins; the caller removes all of them before the agent
starts (see `token_from_environment`)."""
API_VERSION = "2022-11-28"
TIMEOUT = httpx.Timeout(60.0, connect=10.0)
"""A review with many comments can take GitHub a while to write; connecting should not."""
OFF_DIFF_SIGNS = ("part of the diff", "could not be resolved")
"""What GitHub's 422 says when a comment's line (or path) is not in the pull request's diff:
"Pull request review thread line must be part of the diff", "Line could not be resolved"."""


@dataclass(frozen=True)
class PullRequest:
    """The pull request a `pull_request` workflow runs for."""

    repository: str
    """"owner/name"."""
    number: int
    title: str
    body: str
    """"" when the author wrote none."""
    base_ref: str
    """The branch it merges into, e.g. "main"."""
    head_sha: str


class GitHubError(UserFacingError):
    """GitHub refused the call (`status` its code) or did not answer (`status` None)."""

    def __init__(self, sentence: str, status: int | None = None) -> None:
        super().__init__(sentence)
        self.status = status


def pull_request_from_environment(environ: Mapping[str, str]) -> PullRequest | None:
    """The pull request of this workflow run; None outside Actions or in another event."""
    event_path = environ.get("GITHUB_EVENT_PATH", "")
    if not event_path:
        return None
    try:
        with open(event_path, encoding="utf-8") as file:
            event = json.load(file)
    except (OSError, ValueError) as exc:
        raise UserFacingError(
            f"Could not read the GitHub event file {event_path} ({exc}); run nanotui review "
            "from a workflow step, or unset GITHUB_EVENT_PATH."
        ) from None
    pull = event.get("pull_request") if isinstance(event, dict) else None
    if pull is None:  # a push, a schedule, a comment: not a pull request's event
        return None
    try:
        repository = environ.get("GITHUB_REPOSITORY") or event["repository"]["full_name"]
        found = PullRequest(
            repository=repository,
            number=pull["number"],
            title=pull["title"],
            body=pull.get("body") or "",
            base_ref=pull["base"]["ref"],
            head_sha=pull["head"]["sha"],
        )
    except KeyError as exc:
        raise UserFacingError(
            f"The GitHub event file {event_path} has no {exc} for the pull request; run "
            "nanotui review on `pull_request` events."
        ) from None
    except (TypeError, AttributeError):
        found = None
    if found is None or not _well_typed(found):
        raise UserFacingError(
            f"The GitHub event file {event_path} holds a pull request nanotui cannot read "
            "(a field of the wrong type); run nanotui review on `pull_request` events."
        )
    return found


def _well_typed(pull: PullRequest) -> bool:
    texts = (pull.repository, pull.title, pull.body, pull.base_ref, pull.head_sha)
    return all(isinstance(text, str) for text in texts) and type(pull.number) is int


def token_from_environment(environ: Mapping[str, str]) -> str | None:
    """The token for posting the review: GITHUB_TOKEN, else GH_TOKEN; None when neither is set.

    The caller must take the token and then delete every name in TOKEN_VARIABLES from
    `os.environ` before the agent starts: a token the agent's process holds is one a
    prompt-injected change could get at (commands get a scrubbed environment, but the
    process's own is the last place a write token should be).
    """
    for name in TOKEN_VARIABLES:
        token = environ.get(name, "").strip()
        if token:
            return token
    return None


def post_review(
    review: dict[str, Any],
    *,
    repository: str,
    number: int,
    token: str,
    api_url: str = DEFAULT_API_URL,
) -> str:
    """Post `review` (the JSON body of GitHub's create-review call); its page's address.

    When GitHub refuses the review because a comment is not on the diff it says so for the
    whole review without naming the comment, and posts nothing; the review is then sent once
    more with its comments written into its body, so none of them is lost.

    `api_url` is GITHUB_API_URL as the caller finds it (empty: github.com); GitHub
    Enterprise's, `https://HOST/api/v3`, keeps its path.
    """
    owner, _, name = repository.partition("/")
    if not owner or not name or "/" in name:
        raise UserFacingError(f"The repository must be given as owner/name, not {repository!r}.")
    url = f"{(api_url or DEFAULT_API_URL).rstrip('/')}/repos/{owner}/{name}/pulls/{number}/reviews"
    with httpx.Client(headers=_headers(token), timeout=TIMEOUT) as client:
        answer = _send(client, url, review, token)
        if answer.status_code == 422 and review.get("comments") and _off_diff(answer):
            answer = _send(client, url, _folded(review), token)
    if answer.status_code >= 400:
        raise _refusal(answer, token)
    address = _json(answer).get("html_url")
    return address if isinstance(address, str) else ""


def _folded(review: dict[str, Any]) -> dict[str, Any]:
    """`review` with its inline comments moved into its body, each under its place."""
    parts = [review.get("body") or ""]
    parts.append("**Comments GitHub would not place on the diff:**")
    for comment in review.get("comments", []):
        start, line = comment.get("start_line"), comment.get("line")
        lines = f"{start}-{line}" if start and start != line else f"{line}"
        parts.append(f"`{comment.get('path')}` line {lines}:\n\n{comment.get('body', '')}")
    body = "\n\n".join(part for part in parts if part)
    return {**{k: v for k, v in review.items() if k != "comments"}, "body": body}


def _headers(token: str) -> dict[str, str]:
    from nanotui import __version__

    return {
        "Authorization": f"Bearer {token}",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": API_VERSION,
        "User-Agent": f"nanotui/{__version__} (nanotui review)",
    }


def _send(client: httpx.Client, url: str, review: dict[str, Any], token: str) -> httpx.Response:
    try:
        return client.post(url, json=review)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        # `from None`: the chained exception carries the request, and the request the token.
        reason = _scrub(str(exc) or type(exc).__name__, token)
        raise GitHubError(
            f"Could not reach GitHub at {url} to post the review ({reason}); check GITHUB_API_URL "
            "and the runner's network."
        ) from None


def _json(answer: httpx.Response) -> dict[str, Any]:
    try:
        data = answer.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _said(answer: httpx.Response) -> str:
    """GitHub's own words: its message, and the details it lists under `errors`."""
    data = _json(answer)
    words = [str(data.get("message") or answer.reason_phrase or "no message")]
    for error in data.get("errors") or []:
        words.append(str(error.get("message", error) if isinstance(error, dict) else error))
    return "; ".join(words)


def _off_diff(answer: httpx.Response) -> bool:
    said = _said(answer).lower()
    return any(sign in said for sign in OFF_DIFF_SIGNS)


def _refusal(answer: httpx.Response, token: str) -> GitHubError:
    said = _scrub(_said(answer), token)
    status = answer.status_code
    if status == 401:
        hint = "check the token"
    elif status == 403 and "not accessible" in said:
        hint = "give the workflow `permissions: pull-requests: write`"
    elif status == 404:
        hint = "check the repository, the pull request number and the token's access to them"
    else:
        hint = "the review was not posted"
    return GitHubError(f"GitHub refused the review ({status}: {said}); {hint}.", status)


def _scrub(text: str, token: str) -> str:
    # GitHub does not echo tokens, but a proxy in front of an Enterprise server might.
    return text.replace(token, "[REDACTED]") if token else text
