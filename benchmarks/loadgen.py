"""The acknowledgement load generator: signed `/jira help` requests, N in flight, for a fixed time.

Bodies are built and signed before the clock starts (with the current timestamp: Bolt accepts a
signature for five minutes, and a round lasts seconds), so the generator spends its time on HTTP.
One aiohttp session with keep-alive connections, ``concurrency`` workers each sending its next
request as soon as the previous one is answered (a closed loop, like Slack's retries would not be).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from benchmarks.common import signed_headers, slash_command_body, summarize

BODY_VARIANTS = 64


def signed_requests(
    secret: str, response_base: str, count: int = BODY_VARIANTS, text: str = "help"
) -> list[tuple[bytes, dict[str, str]]]:
    """``count`` distinct `/jira help` bodies (own trigger_id, response_url, user), signed now."""
    timestamp = int(time.time())
    requests = []
    for index in range(count):
        body = slash_command_body(
            text,
            user_id=f"U0LOAD{index:04d}",
            response_url=f"{response_base}/response/T0TEAM001-{index}-bench",
            trigger_id=f"{index}.{timestamp}.bench{index:032x}",
        )
        requests.append((body, signed_headers(secret, body, timestamp)))
    return requests


@dataclass
class RoundResult:
    target: str
    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    client_cpu_s: float = 0.0

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "seconds": round(self.seconds, 3),
            "requests": self.requests,
            "rps": round(self.rps, 1),
            "errors": self.errors,
            "statuses": self.statuses,
            "loadgen_cpu_pct": round(100.0 * self.client_cpu_s / self.seconds, 1) if self.seconds else None,
            **summarize(self.latencies),
        }


async def ack_round(
    url: str, secret: str, *, target: str, concurrency: int, seconds: float, response_base: str
) -> RoundResult:
    """Keeps ``concurrency`` requests in flight against ``url`` for ``seconds``."""
    requests = signed_requests(secret, response_base)
    result = RoundResult(target=target, seconds=0.0)
    latencies = result.latencies
    statuses = result.statuses
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        # Open the connections before the clock starts.
        await asyncio.gather(*(_one(session, url, *requests[i % len(requests)]) for i in range(concurrency)))
        cpu_before = time.process_time()
        started = time.perf_counter()
        stop_at = started + seconds

        async def worker(offset: int) -> None:
            index = offset
            clock = time.perf_counter
            while clock() < stop_at:
                body, headers = requests[index % len(requests)]
                index += concurrency
                sent = clock()
                try:
                    status = await _one(session, url, body, headers)
                except (TimeoutError, aiohttp.ClientError) as exc:
                    result.errors += 1
                    key = type(exc).__name__
                    statuses[key] = statuses.get(key, 0) + 1
                    continue
                if status == 200:
                    latencies.append(clock() - sent)
                else:
                    result.errors += 1
                    statuses[str(status)] = statuses.get(str(status), 0) + 1

        await asyncio.gather(*(worker(k) for k in range(concurrency)))
        result.seconds = time.perf_counter() - started
        result.client_cpu_s = time.process_time() - cpu_before
    return result


async def _one(session: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str]) -> int:
    async with session.post(url, data=body, headers=headers) as response:
        await response.read()
        return response.status


@dataclass
class Answer:
    status: int
    seconds: float
    body: str


async def post_all(
    url: str, secret: str, bodies: list[bytes], *, concurrency: int
) -> tuple[list[Answer], float]:
    """Sends every body once, ``concurrency`` at a time, in order; answers in the same order, and the
    seconds from the first send to the last answer. Signed (current timestamp) before the clock starts."""
    signed = [(body, signed_headers(secret, body)) for body in bodies]
    answers: list[Answer | None] = [None] * len(signed)
    next_index = 0
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:

        async def worker() -> None:
            nonlocal next_index
            clock = time.perf_counter
            while next_index < len(signed):
                index = next_index
                next_index += 1
                body, headers = signed[index]
                sent = clock()
                try:
                    async with session.post(url, data=body, headers=headers) as response:
                        text = await response.text()
                        answers[index] = Answer(response.status, clock() - sent, text)
                except (TimeoutError, aiohttp.ClientError) as exc:
                    answers[index] = Answer(0, clock() - sent, f"{type(exc).__name__}: {exc}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    return [a for a in answers if a is not None], seconds
