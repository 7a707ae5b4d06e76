"""Header values never reach stdout, stderr or --json: not in retry logs, error messages or the summary."""

from __future__ import annotations

import pytest

from tests.conftest import SESSION_B_LOGS, SESSION_B_SPANS, Result, run_cli
from tests.faults import FaultServer, Received, Reply, replies, serving

TOKEN = "Zm9vYmFyLXNlY3JldC10b2tlbg"  # noqa: S105  # a made-up credential that tests search the output for
TENANT = "tenant-credential-42"


def echo_token(status: int) -> object:
    """Return a script that responds with `status` and echoes the Authorization token in the reason and body."""

    def respond(request: Received, _earlier: int) -> Reply:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        return Reply(status, {"Retry-After": "0"}, f"bad token {token}".encode(), reason=f"Denied {token}")

    return respond


def replay_with_secrets(server: FaultServer, *options: str) -> Result:
    return run_cli(
        "replay",
        SESSION_B_SPANS,
        SESSION_B_LOGS,
        "--endpoint",
        server.url,
        "--header",
        f"Authorization=Bearer {TOKEN}",
        "--header",
        f"X-Scope-OrgID={TENANT}",
        "--timeout",
        "0.5",
        "--verbose",
        *options,
    )


@pytest.mark.parametrize("status", [401, 503])
def test_echoed_token_not_printed(status: int) -> None:
    """A receiver that echoes the token in its status line: retries and failures print no header value."""
    with serving(echo_token(status)) as server:  # type: ignore[arg-type]
        result = replay_with_secrets(server)

    assert server.requests[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert result.exit_code == 1
    assert "[redacted]" in result.stderr
    assert TOKEN not in result.stderr
    assert TENANT not in result.stderr
    assert TOKEN not in result.stdout


def test_echoed_token_not_in_json() -> None:
    """The --json summary, export errors included, contains no header value."""
    with serving(echo_token(401)) as server:  # type: ignore[arg-type]
        result = replay_with_secrets(server, "--json")

    assert "[redacted]" in result.stdout
    assert TOKEN not in result.stdout
    assert TENANT not in result.stdout
    assert TOKEN not in result.stderr


def test_retry_logs_omit_headers() -> None:
    """Retry lines at --verbose name the status and the wait, never a header value."""
    with serving(replies(Reply(503, {"Retry-After": "0"}), Reply(200))) as server:
        result = replay_with_secrets(server)

    retries = [line for line in result.stderr.splitlines() if "Waiting" in line]
    assert result.exit_code == 0
    assert len(retries) == 2  # one per signal
    assert all(TOKEN not in line and TENANT not in line for line in retries)
