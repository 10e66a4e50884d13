"""Issue cards benchmark: link unfurl latency, and how fast a card action (Assign to me) is acknowledged.

    python -m benchmarks.cards [--quick] [--postgres] [--json PATH]
    python -m benchmarks.cards world jira|slack --port P     # (the runner starts these itself)

Processes as in ``benchmarks.run``: the bot (``python -m bot serve``), the Atlassian emulator with a
Cloud site and 200 issues, and the Slack emulator (which also prepares what Slack would send). This
process sends the load with aiohttp and reads the figures.

- **Unfurl**: 200 ``link_shared`` events (four linked people, a different issue each, so that every
  event costs a Jira read), 20 in flight, Jira answering after 100 ms. ``event ack`` is the HTTP answer
  to the event; ``chat.unfurl after the event`` is the time from sending the event to the Slack
  emulator receiving the ``chat.unfurl`` for its ``unfurl_id`` (both on the machine's monotonic clock).
- **Action ack**: 200 clicks of "Assign to me" on cards the bot posted, 20 in flight, Jira answering
  after 1 s: the HTTP answer to each click (the assignment itself happens after the ack).

Targets (issue 11): event ack p99 < 50 ms; ``chat.unfurl`` p95 < 300 ms; action ack p99 < 100 ms.
Prints a table, PASS/MISS per target and a ``SUMMARY`` line; exits 0 unless the run itself failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import httpx

from benchmarks.common import (
    BOT_TOKEN,
    CHANNEL_ID,
    CLOUD_CLIENT_ID,
    CLOUD_CLIENT_SECRET,
    SIGNING_SECRET,
    TEAM_ID,
    cpu_seconds,
    fmt_number,
    format_table,
    percentile,
    signed_headers,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_JSON = REPO_ROOT / "benchmarks" / "results" / "cards.json"
EVENT_ACK_P99_MS = 50.0
UNFURL_P95_MS = 300.0
ACTION_ACK_P99_MS = 100.0


@dataclass(frozen=True)
class Plan:
    unfurl_count: int = 200
    unfurl_concurrency: int = 20
    unfurl_jira_latency: float = 0.1
    click_count: int = 200
    click_concurrency: int = 20
    click_jira_latency: float = 1.0

    @classmethod
    def quick(cls) -> Plan:
        return cls(unfurl_count=60, click_count=60)


# The emulator processes --------------------------------------------------------------------------


def _jira_side() -> Any:
    from benchmarks.worlds import PROJECT_KEY, JiraSide

    class CardsJira(JiraSide):
        def handlers(self) -> dict[str, Any]:
            return {**super().handlers(), "seed": self.seed}

        def seed(self, count: int) -> dict[str, Any]:
            site = self.emulator.cloud_site("acme")
            keys = [
                self.emulator.seed_issue(site, PROJECT_KEY, f"Benchmark issue {n}", priority="High").key
                for n in range(count)
            ]
            return {"keys": keys}

    return CardsJira()


def _slack_side() -> Any:
    from benchmarks.worlds import SITE_URL, SlackSide

    class CardsSlack(SlackSide):
        def handlers(self) -> dict[str, Any]:
            return {
                **super().handlers(),
                "link_events": self.link_events,
                "clicks": self.clicks,
                "unfurl_times": self.unfurl_times,
                "unfurl_domains": self.set_domains,
            }

        def set_domains(self) -> dict[str, Any]:
            self.emulator.unfurl_domains = ("atlassian.net",)
            return {"ok": True}

        def _envelope(self, event: dict[str, Any]) -> dict[str, Any]:
            return {
                "token": "vErIfIcAtIoNtOkEn000000",
                "team_id": TEAM_ID,
                "api_app_id": self.emulator.app_id,
                "event": event,
                "type": "event_callback",
                "event_id": f"Ev{event['unfurl_id'][-12:]}",
                "event_time": int(time.time()),
                "authorizations": [
                    {
                        "enterprise_id": None,
                        "team_id": TEAM_ID,
                        "user_id": self.emulator.bot_user_id,
                        "is_bot": True,
                        "is_enterprise_install": False,
                    }
                ],
                "is_ext_shared_channel": False,
            }

        def link_events(self, keys: list[str]) -> dict[str, Any]:
            """One link_shared event per issue key, by the linked people in turn (JSON bodies)."""
            bodies, ids = [], []
            for n, key in enumerate(keys):
                user = self.linked[n % len(self.linked)]
                event = self.emulator.share_links(CHANNEL_ID, user, [f"{SITE_URL}/browse/{key}"])
                assert event is not None
                bodies.append(json.dumps(self._envelope(event)))
                ids.append(event["unfurl_id"])
            return {"bodies": bodies, "unfurl_ids": ids}

        def unfurl_times(self) -> dict[str, Any]:
            return {
                "at": {
                    str(c.params.get("unfurl_id")): c.at
                    for c in self.emulator.calls_to("chat.unfurl")
                    if c.ok
                }
            }

        def clicks(self, keys: list[str]) -> dict[str, Any]:
            """Card messages posted by the bot, and one "Assign to me" click on each (form bodies)."""
            from bot.jira.issues import IssueSnapshot
            from bot.slack import ids as slack_ids
            from bot.slack.views.issue_card import build_card_message
            from tests.emulators.slack import public_message

            emu, bodies = self.emulator, []
            team = emu.team(TEAM_ID)
            for n, key in enumerate(keys):
                user = self.linked[n % len(self.linked)]
                issue = IssueSnapshot.parse({"key": key, "fields": {"summary": f"Benchmark issue {key}"}})
                card = build_card_message(issue, site_url=SITE_URL)
                message = emu.add_message(
                    CHANNEL_ID, card["text"], team["bot_user_id"], blocks=card["blocks"]
                )
                hook = emu.new_response_url(
                    channel_id=CHANNEL_ID, user_id=user, message_ts=message["ts"], team_id=TEAM_ID
                )
                payload = {
                    "type": "block_actions",
                    "token": "vErIfIcAtIoNtOkEn000000",
                    "team": {"id": TEAM_ID, "domain": "acme"},
                    "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM_ID},
                    "api_app_id": emu.app_id,
                    "is_enterprise_install": False,
                    "enterprise": None,
                    "container": {
                        "type": "message",
                        "message_ts": message["ts"],
                        "channel_id": CHANNEL_ID,
                        "is_ephemeral": False,
                    },
                    "channel": {"id": CHANNEL_ID, "name": "general"},
                    "message": public_message(message),
                    "state": {"values": {}},
                    "response_url": hook,
                    "trigger_id": emu.new_trigger_id(user, team_id=TEAM_ID),
                    "actions": [
                        {
                            "type": "button",
                            "action_id": slack_ids.ACTION_CARD_ASSIGN,
                            "block_id": f"{slack_ids.BLOCK_CARD_ACTIONS}:{key}",
                            "value": key,
                            "text": {"type": "plain_text", "text": "Assign to me"},
                            "action_ts": f"{time.time():.6f}",
                        }
                    ],
                }
                bodies.append(urlencode({"payload": json.dumps(payload)}))
            return {"bodies": bodies}

    return CardsSlack()


def world_main(world: str, port: int) -> int:
    from benchmarks.worlds import serve, with_control

    side = _jira_side() if world == "jira" else _slack_side()
    serve(with_control(side.emulator.app, side.handlers()), port)
    return 0


# Sending the load --------------------------------------------------------------------------------


@dataclass
class Sent:
    status: int
    sent_at: float  # time.monotonic() when sent
    seconds: float  # until the whole answer was read


async def send_all(url: str, bodies: list[bytes], content_type: str, concurrency: int) -> list[Sent]:
    signed = [
        (body, {**signed_headers(SIGNING_SECRET, body), "Content-Type": content_type}) for body in bodies
    ]
    results: list[Sent | None] = [None] * len(signed)
    next_index = 0
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:

        async def worker() -> None:
            nonlocal next_index
            while next_index < len(signed):
                index = next_index
                next_index += 1
                body, headers = signed[index]
                sent = time.monotonic()
                try:
                    async with session.post(url, data=body, headers=headers) as response:
                        await response.read()
                        results[index] = Sent(response.status, sent, time.monotonic() - sent)
                except (TimeoutError, aiohttp.ClientError):
                    results[index] = Sent(0, sent, time.monotonic() - sent)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return [r for r in results if r is not None]


def _ms(values: list[float], q: float) -> float | None:
    found = percentile(values, q)
    return None if found is None else round(found * 1000, 1)


# The run -----------------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks.run import Processes, child_env, free_port, fresh_postgres, wait_ready
    from storage.crypto import generate_key

    plan = Plan.quick() if args.quick else Plan()
    workdir = Path(tempfile.mkdtemp(prefix="jirabot-cards-bench-"))
    procs = Processes(workdir)
    figures: dict[str, Any] = {"plan": plan.__dict__}
    try:
        async with contextlib.AsyncExitStack() as stack:
            http = await stack.enter_async_context(httpx.AsyncClient(timeout=600))
            database_url = (
                await stack.enter_async_context(fresh_postgres())
                if args.postgres
                else f"sqlite:///{workdir}/jirabot.sqlite3"
            )
            ports = {name: free_port() for name in ("jira", "slack", "bot")}
            for world in ("jira", "slack"):
                env = child_env({})
                env["JIRABOT_SPECS_DIR"] = str(workdir / "no-specs")  # structural checks only, as run.py
                env.pop("CI", None)
                procs.start(
                    world,
                    [sys.executable, "-m", "benchmarks.cards", "world", world, "--port", str(ports[world])],
                    ports[world],
                    env,
                )
            for world in ("jira", "slack"):
                await wait_ready(http, procs.procs[world], "/_bench/ping")

            async def control(world: str, name: str, **body: Any) -> Any:
                response = await http.post(f"{procs.procs[world].url}/_bench/{name}", json=body)
                if response.status_code != 200:
                    raise RuntimeError(
                        f"{world} {name}: HTTP {response.status_code}: {response.text[-2000:]}"
                    )
                return response.json()

            bot_url = f"http://127.0.0.1:{ports['bot']}"
            await control("jira", "setup", redirect_uri=f"{bot_url}/jira/oauth/callback")
            slack_url, jira_url = procs.procs["slack"].url, procs.procs["jira"].url
            await control("slack", "setup", base_url=slack_url, bot_url=bot_url)
            await control("slack", "unfurl_domains")
            bot = procs.start(
                "bot",
                [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(ports["bot"])],
                ports["bot"],
                child_env(
                    {
                        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                        "SLACK_BOT_TOKEN": BOT_TOKEN,
                        "SLACK_API_URL": f"{slack_url}/api/",
                        "LOG_LEVEL": "warning",
                        "DATABASE_URL": database_url,
                        "JIRABOT_ENCRYPTION_KEY": generate_key(),
                        "ATLASSIAN_AUTH_URL": jira_url,
                        "ATLASSIAN_API_URL": jira_url,
                        "ATLASSIAN_CLIENT_ID": CLOUD_CLIENT_ID,
                        "ATLASSIAN_CLIENT_SECRET": CLOUD_CLIENT_SECRET,
                        "JIRABOT_PUBLIC_URL": bot_url,
                    }
                ),
            )
            await wait_ready(http, bot, "/healthz")
            linked = await control("slack", "link")
            if len(linked["linked"]) < 2:
                raise RuntimeError(f"linking failed: {linked}")
            count = max(plan.unfurl_count, plan.click_count)
            keys = (await control("jira", "seed", count=count))["keys"]
            events_url = f"{bot_url}/slack/events"

            spy = _start_profiler(args.profile, bot.pid)

            # Unfurls
            print("... unfurl", flush=True)
            await control("jira", "latency", seconds=plan.unfurl_jira_latency)
            prepared = await control("slack", "link_events", keys=keys[: plan.unfurl_count])
            cpu_before = cpu_seconds(bot.pid)
            sent = await send_all(
                events_url,
                [b.encode() for b in prepared["bodies"]],
                "application/json",
                plan.unfurl_concurrency,
            )
            deadline = time.monotonic() + 60
            arrived: dict[str, float] = {}
            while time.monotonic() < deadline:
                arrived = (await control("slack", "unfurl_times"))["at"]
                if len(arrived) >= len(sent):
                    break
                await asyncio.sleep(0.25)
            cpu_after = cpu_seconds(bot.pid)
            after = [
                arrived[uid] - s.sent_at
                for uid, s in zip(prepared["unfurl_ids"], sent, strict=True)
                if uid in arrived
            ]
            acks = [s.seconds for s in sent if s.status == 200]
            figures["unfurl"] = {
                "events": len(sent),
                "acked": len(acks),
                "unfurled": len(after),
                "ack_p50_ms": _ms(acks, 50),
                "ack_p99_ms": _ms(acks, 99),
                "bot_cpu_ms_per_event": (
                    None
                    if cpu_before is None or cpu_after is None or not sent
                    else round(1000 * (cpu_after - cpu_before) / len(sent), 1)
                ),
                "unfurl_p50_ms": _ms(after, 50),
                "unfurl_p95_ms": _ms(after, 95),
                "unfurl_max_ms": _ms(after, 100),
            }

            # Action acks
            print("... action ack", flush=True)
            await control("jira", "latency", seconds=plan.click_jira_latency)
            clicks = await control("slack", "clicks", keys=keys[: plan.click_count])
            cpu_before = cpu_seconds(bot.pid)
            answered = await send_all(
                events_url,
                [b.encode() for b in clicks["bodies"]],
                "application/x-www-form-urlencoded",
                plan.click_concurrency,
            )
            ok = [s.seconds for s in answered if s.status == 200]
            figures["action"] = {
                "clicks": len(answered),
                "acked": len(ok),
                "ack_p50_ms": _ms(ok, 50),
                "ack_p99_ms": _ms(ok, 99),
                "ack_max_ms": _ms(ok, 100),
            }
            await asyncio.sleep(plan.click_jira_latency * 3)
            cpu_after = cpu_seconds(bot.pid)
            if cpu_before is not None and cpu_after is not None and answered:
                figures["action"]["bot_cpu_ms_per_click"] = round(
                    1000 * (cpu_after - cpu_before) / len(answered), 1
                )
            figures["load_average"] = [round(x, 2) for x in os.getloadavg()]
            _stop_profiler(spy)
            return figures
    finally:
        procs.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)


def _start_profiler(directory: Path | None, pid: int) -> subprocess.Popen[bytes] | None:
    """py-spy on the bot for both phases (--profile): collapsed stacks of the samples holding the GIL."""
    if directory is None:
        return None
    directory.mkdir(parents=True, exist_ok=True)
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    return subprocess.Popen(
        [
            spy,
            "record",
            "--pid",
            str(pid),
            "--rate",
            "250",
            "--format",
            "raw",
            "--gil",
            "--nonblocking",
            "--output",
            str(directory / "bot-cards.txt"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _stop_profiler(spy: subprocess.Popen[bytes] | None) -> None:
    if spy is None:
        return
    spy.send_signal(signal.SIGINT)
    try:
        spy.wait(timeout=30)
    except subprocess.TimeoutExpired:
        spy.kill()
        spy.wait()


def targets(figures: dict[str, Any]) -> list[tuple[str, str, Any, bool]]:
    unfurl, action = figures.get("unfurl", {}), figures.get("action", {})

    def below(value: Any, limit: float) -> bool:
        return value is not None and value < limit

    return [
        (
            "link_shared ack p99",
            f"< {EVENT_ACK_P99_MS:.0f} ms",
            unfurl.get("ack_p99_ms"),
            below(unfurl.get("ack_p99_ms"), EVENT_ACK_P99_MS) and unfurl.get("acked") == unfurl.get("events"),
        ),
        (
            "chat.unfurl p95 after the event",
            f"< {UNFURL_P95_MS:.0f} ms",
            unfurl.get("unfurl_p95_ms"),
            below(unfurl.get("unfurl_p95_ms"), UNFURL_P95_MS)
            and unfurl.get("unfurled") == unfurl.get("events"),
        ),
        (
            "action ack p99 (Jira at 1 s)",
            f"< {ACTION_ACK_P99_MS:.0f} ms",
            action.get("ack_p99_ms"),
            below(action.get("ack_p99_ms"), ACTION_ACK_P99_MS)
            and action.get("acked") == action.get("clicks"),
        ),
    ]


def report(figures: dict[str, Any]) -> str:
    unfurl, action = figures["unfurl"], figures["action"]
    lines = [
        "Unfurl (link_shared, Jira at 100 ms)",
        format_table(
            [
                "events",
                "acked",
                "unfurled",
                "ack p50",
                "ack p99",
                "unfurl p50",
                "unfurl p95",
                "unfurl max",
                "bot CPU/event",
            ],
            [
                [
                    unfurl["events"],
                    unfurl["acked"],
                    unfurl["unfurled"],
                    fmt_number(unfurl["ack_p50_ms"], unit=" ms"),
                    fmt_number(unfurl["ack_p99_ms"], unit=" ms"),
                    fmt_number(unfurl["unfurl_p50_ms"], unit=" ms"),
                    fmt_number(unfurl["unfurl_p95_ms"], unit=" ms"),
                    fmt_number(unfurl["unfurl_max_ms"], unit=" ms"),
                    fmt_number(unfurl.get("bot_cpu_ms_per_event"), unit=" ms"),
                ]
            ],
        ),
        "",
        "Action ack (Assign to me, Jira at 1 s)",
        format_table(
            ["clicks", "acked", "ack p50", "ack p99", "ack max", "bot CPU/click"],
            [
                [
                    action["clicks"],
                    action["acked"],
                    fmt_number(action["ack_p50_ms"], unit=" ms"),
                    fmt_number(action["ack_p99_ms"], unit=" ms"),
                    fmt_number(action["ack_max_ms"], unit=" ms"),
                    fmt_number(action.get("bot_cpu_ms_per_click"), unit=" ms"),
                ]
            ],
        ),
        "",
        f"Load average during the run: {figures.get('load_average')} (the targets assume 2 free cores)",
        "",
        "Targets",
    ]
    verdicts = targets(figures)
    for name, goal, value, passed in verdicts:
        lines.append(f"  {'PASS' if passed else 'MISS'}  {name}: {fmt_number(value, unit=' ms')} ({goal})")
    passed = sum(1 for *_, ok in verdicts if ok)
    lines.append(
        f"SUMMARY cards: {passed}/{len(verdicts)} targets met; "
        + "; ".join(f"{name} {fmt_number(value, unit=' ms')}" for name, _, value, _ in verdicts)
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["world"]:
        parser = argparse.ArgumentParser(prog="python -m benchmarks.cards world")
        parser.add_argument("world", choices=["jira", "slack"])
        parser.add_argument("--port", type=int, required=True)
        world_args = parser.parse_args(argv[1:])
        return world_main(world_args.world, world_args.port)
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cards", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="60 events and 60 clicks instead of 200")
    parser.add_argument(
        "--postgres", action="store_true", help="a fresh PostgreSQL database instead of SQLite"
    )
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where the figures go")
    parser.add_argument("--profile", type=Path, default=None, help="py-spy the bot into DIR/bot-cards.txt")
    args = parser.parse_args(argv)
    try:
        figures = asyncio.run(run(args))
    except Exception as exc:
        print(f"benchmark failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    figures["targets"] = [
        {"name": name, "goal": goal, "value_ms": value, "verdict": "PASS" if ok else "MISS"}
        for name, goal, value, ok in targets(figures)
    ]
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(figures, indent=1))
    print(report(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
