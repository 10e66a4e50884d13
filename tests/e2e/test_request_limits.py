"""Request limits against the bot served for real: bodies over 1 MiB refused (declared or streamed),
Slack's signature checked before any parsing, malformed bodies 400, and the event loop never stalled
by a large body."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.emulators.slack_driver import SlackDriver
from tests.harness import BotHarness

MIB = 1024 * 1024


def _raw_request(
    bot: BotHarness, head: str, chunks: Iterator[bytes], timeout: float = 15.0
) -> tuple[int, int]:
    """Sends a request head then body chunks until the bot answers; (status, body bytes sent)."""
    host, port = bot.url.removeprefix("http://").split(":")
    sent = 0
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(head.encode())
        sock.setblocking(False)
        answer = b""
        deadline = time.monotonic() + timeout
        for chunk in chunks:
            try:
                answer += sock.recv(65536)
            except BlockingIOError:
                pass
            except ConnectionError:
                break
            if answer:
                break
            try:
                sock.sendall(chunk)
            except (BlockingIOError, ConnectionError):
                break
            sent += len(chunk)
            assert time.monotonic() < deadline, "the bot never answered"
        sock.setblocking(True)
        while b"\r\n" not in answer:
            more = sock.recv(65536)
            if not more:
                break
            answer += more
    status = int(answer.split(b" ", 2)[1])
    return status, sent


def _chunked(total: int, piece: bytes = b"[1," * 21845) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        yield f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
        sent += len(piece)
    yield b"0\r\n\r\n"


def test_a_declared_length_over_1_mib_gets_413_before_the_body_is_read(bot: BotHarness) -> None:
    for path in ("/slack/events", "/jira/oauth/callback", "/healthz"):
        head = (
            f"POST {path} HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\n"
            f"Content-Length: {60 * MIB}\r\n\r\n"
        )
        status, sent = _raw_request(bot, head, iter([b"{" * 65536] * 960))
        assert status == 413, path
        assert sent < 32 * MIB  # answered long before the 60 MB were sent (sockets buffer some)


def test_a_streamed_body_gets_413_once_it_passes_1_mib(bot: BotHarness) -> None:
    head = (
        "POST /slack/events HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    )
    status, sent = _raw_request(bot, head, _chunked(60 * MIB))
    assert status == 413
    assert MIB <= sent < 32 * MIB  # what the sockets buffered besides the 1 MiB read


def test_bodies_up_to_1_mib_are_still_read(driver: SlackDriver) -> None:
    padding = b"&pad=" + b"x" * (MIB - 1000)
    result = driver.post_raw(
        b"command=%2Fjira&text=help&team_id=T0TEAM001&user_id=U0ALICE01"
        b"&channel_id=C0GENERAL&response_url=http%3A%2F%2F127.0.0.1%3A9%2Fr"
        b"&trigger_id=1.2.3" + padding
    )
    assert result.status_code == 200
    assert "/jira connect" in result.json()["text"]


MALFORMED = [
    (b"payload={bad", "application/x-www-form-urlencoded"),
    (b"payload=[]", "application/x-www-form-urlencoded"),
    (b"{bad", "application/x-www-form-urlencoded"),
    (b"{bad", "application/json"),
    (b"[1, 2]", "application/json"),
    (b'{"type": "event_callback", "event": "x"}', "application/json"),
    (b'payload={"type": "block_actions", "actions": []}', "application/x-www-form-urlencoded"),
    (b"command=/jira&text=help", "text/plain"),
    (b"command=/jira&text=\xff\xfe", "application/x-www-form-urlencoded"),
    (b"[" * 100_000, "application/json"),
]


@pytest.mark.parametrize(("body", "content_type"), MALFORMED)
def test_malformed_bodies_get_401_unsigned_and_400_signed_never_a_traceback(
    driver: SlackDriver, caplog: pytest.LogCaptureFixture, body: bytes, content_type: str
) -> None:
    caplog.set_level(logging.INFO)
    assert driver.post_raw(body, content_type=content_type, sign=False).status_code == 401
    assert driver.post_raw(body, content_type=content_type, secret="another-secret").status_code == 401
    assert driver.post_raw(body, content_type=content_type).status_code == 400
    tracebacks = [r.getMessage() for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert tracebacks == []


def test_a_60_mb_body_does_not_stall_the_event_loop(bot: BotHarness) -> None:
    """Three 60 MB uploads at once (unsigned, then signed-looking): health answers quickly throughout."""
    statuses: list[int] = []

    def upload() -> None:
        head = (
            "POST /slack/events HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\n"
            "X-Slack-Request-Timestamp: 1\r\nX-Slack-Signature: v0=00\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        statuses.append(_raw_request(bot, head, _chunked(60 * MIB))[0])

    uploads = [threading.Thread(target=upload) for _ in range(3)]
    slowest = 0.0
    with httpx.Client(base_url=bot.url, timeout=10) as client:
        client.get("/healthz")  # a warm connection, as a load balancer has
        for thread in uploads:
            thread.start()
        while any(t.is_alive() for t in uploads):
            started = time.perf_counter()
            assert client.get("/healthz").status_code == 200
            slowest = max(slowest, time.perf_counter() - started)
            time.sleep(0.01)
    assert statuses == [413, 413, 413]
    assert slowest < 0.5
