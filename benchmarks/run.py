"""jirabot benchmarks: acknowledgement throughput against bare Bolt, modal latency under a slow Jira,
issue creation, memory. See benchmarks/README.md.

    python -m benchmarks.run [--postgres] [--quick] [--json PATH]

Every server runs in its own process: the bot (`python -m bot serve`), the baseline (a bare Bolt app),
the Atlassian emulator and the Slack emulator (which also plays the people clicking). This process
generates the acknowledgement load and reads the figures. It exits 0 when targets are missed (they are
printed PASS/MISS); non-zero only when the benchmark itself could not run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import platform
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import (
    BOT_TOKEN,
    CLOUD_CLIENT_ID,
    CLOUD_CLIENT_SECRET,
    SIGNING_SECRET,
    cpu_seconds,
    creation_target,
    evaluate_targets,
    fmt_number,
    format_table,
    peak_rss_mb,
    percentile,
    ratio,
    rss_mb,
    summarize,
    summary_line,
)
from benchmarks.loadgen import RoundResult, ack_round, post_all

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_JSON = REPO_ROOT / "benchmarks" / "results" / "latest.json"
POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
_OWN_ENV_PREFIXES = ("SLACK_", "JIRABOT_", "ATLASSIAN_")


@dataclass(frozen=True)
class Plan:
    ack_concurrency: int = 32
    ack_seconds: float = 10.0
    ack_rounds: int = 3
    ack_warmup: float = 2.0
    modal_count: int = 60
    modal_concurrency: int = 4
    modal_jira_latency: float = 1.5
    create_count: int = 500
    create_concurrency: int = 20
    create_jira_latency: float = 0.1

    @classmethod
    def quick(cls) -> Plan:
        return cls(ack_seconds=3.0, ack_rounds=2, ack_warmup=1.0, modal_count=20, create_count=100)


def parse_overrides(items: list[str], plan: Plan) -> dict[str, Any]:
    """``["modal_count=10", "ack_seconds=2.5"]`` -> typed values for :class:`Plan` fields."""
    fields = {f.name: f for f in dataclasses.fields(plan)}
    values: dict[str, Any] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        name = name.strip()
        if not sep or name not in fields:
            raise SystemExit(f"--set {item!r}: expected NAME=VALUE with NAME one of {', '.join(fields)}")
        kind = type(getattr(plan, name))
        values[name] = kind(raw)
    return values


def free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Processes -------------------------------------------------------------------------------------


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


class Processes:
    """Starts children (each in its own session) and stops exactly those, by pid."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.procs: dict[str, Proc] = {}

    def start(self, name: str, argv: list[str], port: int, env: dict[str, str]) -> Proc:
        log_path = self.workdir / f"{name}.log"
        with open(log_path, "wb") as log_file:
            popen = subprocess.Popen(
                argv,
                cwd=self.workdir,
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        proc = Proc(name, popen, port, log_path)
        self.procs[name] = proc
        return proc

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in self.procs.values():
            try:
                proc.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGKILL)
                proc.popen.wait(timeout=5)


def child_env(extra: dict[str, str]) -> dict[str, str]:
    """This environment without any jirabot/Slack/Atlassian setting or DATABASE_URL, plus `extra`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(_OWN_ENV_PREFIXES)
        and k not in {"DATABASE_URL", "LOG_LEVEL", "LOG_FORMAT", "PORT"}
    }
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


async def wait_ready(client: httpx.AsyncClient, proc: Proc, path: str, within: float = 90.0) -> None:
    deadline = time.monotonic() + within
    last = "no answer"
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.log_tail()}")
        try:
            response = await client.get(proc.url + path, timeout=2)
            if response.status_code == 200:
                return
            last = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{proc.name} not ready after {within:.0f}s ({last}):\n{proc.log_tail()}")


# PostgreSQL ------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def fresh_postgres() -> AsyncIterator[str]:
    import asyncpg

    name = f"jirabot_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        admin = await asyncpg.connect(POSTGRES_ADMIN_URL)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


# The run ---------------------------------------------------------------------------------------


class Bench:
    def __init__(
        self, plan: Plan, procs: Processes, http: httpx.AsyncClient, profile_dir: Path | None = None
    ) -> None:
        self.plan = plan
        self.procs = procs
        self.http = http
        self.profile_dir = profile_dir
        self.figures: dict[str, Any] = {}
        self.cpu: dict[str, dict[str, float | None]] = {}

    # -- plumbing -----------------------------------------------------------------------------

    def p(self, name: str) -> Proc:
        return self.procs.procs[name]

    async def control(self, world: str, name: str, **args: Any) -> Any:
        response = await self.http.post(f"{self.p(world).url}/_bench/{name}", json=args, timeout=600.0)
        if response.status_code != 200:
            raise RuntimeError(f"{world} {name}: HTTP {response.status_code}: {response.text[-3000:]}")
        return response.json()

    def _cpu_snapshot(self) -> dict[str, float | None]:
        snap: dict[str, float | None] = {
            name: cpu_seconds(proc.pid) for name, proc in self.procs.procs.items()
        }
        # The bot's main thread (its event loop); the rest of its CPU is in threads (aiosqlite, …).
        snap["bot_loop"] = cpu_seconds(self.p("bot").pid, thread=self.p("bot").pid)
        snap["runner"] = time.process_time()
        return snap

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Records each process's CPU use during the phase, as a percentage of one core."""
        before = self._cpu_snapshot()
        started = time.perf_counter()
        print(f"... {name}", flush=True)
        spy = self._start_profiler(name)
        try:
            yield
        finally:
            self._stop_profiler(spy)
            wall = time.perf_counter() - started
            after = self._cpu_snapshot()
            usage: dict[str, float | None] = {"wall_s": round(wall, 2)}
            for key, value in after.items():
                first = before.get(key)
                usage[f"{key}_cpu_pct"] = (
                    None if value is None or first is None else round(100.0 * (value - first) / wall, 1)
                )
            self.cpu[name] = usage

    def _start_profiler(self, phase: str) -> subprocess.Popen[bytes] | None:
        """py-spy on the bot for the phase (--profile): collapsed stacks of the samples that held the GIL
        (where its Python time goes), for reading or for flamegraph.pl."""
        if self.profile_dir is None:
            return None
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        self.profile_dir.mkdir(parents=True, exist_ok=True)
        out = self.profile_dir / f"bot-{phase.replace(' ', '').replace(':', '-')}.txt"
        return subprocess.Popen(
            [
                spy,
                "record",
                "--pid",
                str(self.p("bot").pid),
                "--rate",
                "250",
                "--format",
                "raw",
                "--gil",
                "--nonblocking",
                "--output",
                str(out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    @staticmethod
    def _stop_profiler(spy: subprocess.Popen[bytes] | None) -> None:
        if spy is None:
            return
        spy.send_signal(signal.SIGINT)
        try:
            spy.wait(timeout=30)
        except subprocess.TimeoutExpired:
            spy.kill()
            spy.wait()

    async def quiesce(self, within: float = 60.0, still: float = 1.5) -> None:
        """Waits until neither emulator has received a request for `still` seconds."""
        deadline = time.monotonic() + within
        last: tuple[int, int] | None = None
        since = time.monotonic()
        while time.monotonic() < deadline:
            slack = await self.control("slack", "count")
            jira = await self.control("jira", "count")
            now = (slack["count"], jira["count"])
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= still:
                return
            await asyncio.sleep(0.25)

    # -- phases -------------------------------------------------------------------------------

    async def ack(self) -> None:
        plan = self.plan
        url_of = {
            "bot": self.p("bot").url + "/slack/events",
            "baseline": self.p("baseline").url + "/slack/events",
        }
        response_base = self.p("slack").url
        for target in ("bot", "baseline"):
            await ack_round(
                url_of[target],
                SIGNING_SECRET,
                target=target,
                concurrency=plan.ack_concurrency,
                seconds=plan.ack_warmup,
                response_base=response_base,
            )
        rounds: list[tuple[RoundResult, float | None]] = []
        for index in range(plan.ack_rounds):
            order = ("bot", "baseline") if index % 2 == 0 else ("baseline", "bot")
            for target in order:
                cpu_before = cpu_seconds(self.p(target).pid)
                result = await ack_round(
                    url_of[target],
                    SIGNING_SECRET,
                    target=target,
                    concurrency=plan.ack_concurrency,
                    seconds=plan.ack_seconds,
                    response_base=response_base,
                )
                cpu_after = cpu_seconds(self.p(target).pid)
                server_cpu = (
                    None
                    if cpu_before is None or cpu_after is None
                    else round(100.0 * (cpu_after - cpu_before) / result.seconds, 1)
                )
                rounds.append((result, server_cpu))
                print(
                    f"    {target:8} round {index + 1}: {result.rps:7.1f} req/s  "
                    f"p99 {fmt_number(summarize(result.latencies)['p99_ms'], 1)} ms  "
                    f"errors {result.errors}  server CPU {fmt_number(server_cpu, 0)}%  "
                    f"loadgen CPU {fmt_number(100 * result.client_cpu_s / result.seconds, 0)}%",
                    flush=True,
                )
        figures: dict[str, Any] = {
            "concurrency": plan.ack_concurrency,
            "round_seconds": plan.ack_seconds,
            "rounds": plan.ack_rounds,
            "command": "/jira help",
        }
        for target in ("bot", "baseline"):
            mine = [(r, cpu) for r, cpu in rounds if r.target == target]
            latencies = [lat for r, _ in mine for lat in r.latencies]
            seconds = sum(r.seconds for r, _ in mine)
            cpus = [cpu for _, cpu in mine if cpu is not None]
            # CPU time per request: what the server spent, whatever else ran on the machine.
            server_cpu_s = sum(cpu / 100.0 * r.seconds for r, cpu in mine if cpu is not None)
            figures[target] = {
                "rps": round(len(latencies) / seconds, 1) if seconds else None,
                "requests": len(latencies),
                "errors": sum(r.errors for r, _ in mine),
                "round_rps": [round(r.rps, 1) for r, _ in mine],
                "server_cpu_pct": round(sum(cpus) / len(cpus), 1) if cpus else None,
                "server_cpu_us_per_request": round(1e6 * server_cpu_s / len(latencies), 1)
                if latencies
                else None,
                "loadgen_cpu_pct": round(100 * sum(r.client_cpu_s for r, _ in mine) / seconds, 1)
                if seconds
                else None,
                **summarize(latencies),
            }
        # Rounds i of both apps ran back to back: their ratio sees (nearly) the same machine. The
        # median of these paired ratios is the figure judged; the ratio of the totals is shown too.
        pairs = [
            ratio(b, a)
            for b, a in zip(figures["bot"]["round_rps"], figures["baseline"]["round_rps"], strict=True)
        ]
        paired = [r for r in pairs if r is not None]
        figures["round_ratios"] = [round(r, 3) for r in paired]
        figures["ratio"] = round(percentile(paired, 50), 3) if paired else None  # type: ignore[arg-type]
        total = ratio(figures["bot"]["rps"], figures["baseline"]["rps"])
        figures["ratio_of_totals"] = None if total is None else round(total, 3)
        self.figures["ack"] = figures

    async def link(self) -> None:
        result = await self.control("slack", "link")
        if len(result["linked"]) != len(result["statuses"]):
            raise RuntimeError(f"linking failed: {result['statuses']}")
        self.figures["linked_users"] = len(result["linked"])

    async def modal(self) -> None:
        plan = self.plan
        await self.control("jira", "latency", seconds=plan.modal_jira_latency)
        try:
            result = await self.control(
                "slack", "modal", count=plan.modal_count, concurrency=plan.modal_concurrency
            )
            await self.quiesce(within=30 + 10 * plan.modal_jira_latency, still=plan.modal_jira_latency + 1.0)
        finally:
            await self.control("jira", "latency", seconds=0)
        shortcuts = result["shortcuts"]
        opened = [s["open_s"] for s in shortcuts if s["open_s"] is not None]
        acks = [s["ack_s"] for s in shortcuts if s["status"] == 200]
        stats = summarize(opened)
        self.figures["modal"] = {
            "jira_latency_s": plan.modal_jira_latency,
            "count": len(shortcuts),
            "concurrency": plan.modal_concurrency,
            "opened": len(opened),
            "ack_errors": sum(1 for s in shortcuts if s["status"] != 200),
            **stats,
            "ack_p50_ms": summarize(acks)["p50_ms"],
            "ack_p95_ms": summarize(acks)["p95_ms"],
        }

    async def create(self) -> None:
        plan = self.plan
        await self.control("jira", "latency", seconds=0)
        before = (await self.control("jira", "issues"))["count"]
        prepared = await self.control(
            "slack", "prepare", count=plan.create_count, concurrency=plan.create_concurrency
        )
        print(
            f"    {prepared['prepared']} modals opened and filled in {prepared['seconds']:.1f}s "
            f"({prepared['failed']} failed)",
            flush=True,
        )
        if prepared["failed"]:
            print("    " + "\n    ".join(prepared["failures"][:5]), flush=True)
        await self.quiesce()
        count = prepared["prepared"]
        target = creation_target(plan.create_concurrency, plan.create_jira_latency)
        figures: dict[str, Any] = {
            "jira_latency_s": plan.create_jira_latency,
            "concurrency": plan.create_concurrency,
            "planned": plan.create_count,
            "submissions": count,
            "modals_failed": prepared["failed"],
            "target_per_s": target,
            "prepare_s": round(prepared["seconds"], 2),
        }
        self.figures["create"] = figures
        await self.control("jira", "latency", seconds=plan.create_jira_latency)
        built = await self.control("slack", "submissions")
        bodies = [item["body"].encode("ascii") for item in built["submissions"]]
        bot_cpu_before = cpu_seconds(self.p("bot").pid)
        started = time.time()
        try:
            with self.phase("create: submissions"):
                answers, submit_seconds = await post_all(
                    self.p("bot").url + "/slack/events",
                    SIGNING_SECRET,
                    bodies,
                    concurrency=plan.create_concurrency,
                )
                deadline = time.monotonic() + 60 + count * plan.create_jira_latency
                issues = await self.control("jira", "issues")
                while issues["count"] - before < count and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                    issues = await self.control("jira", "issues")
            await self.quiesce()
        finally:
            await self.control("jira", "latency", seconds=0)
        bot_cpu_after = cpu_seconds(self.p("bot").pid)
        issues = await self.control("jira", "issues")
        created = issues["created_at"][before:]
        applied = await self.control(
            "slack",
            "apply_acks",
            acks=[
                {"view_id": item["view_id"], "status": answer.status, "body": answer.body}
                for item, answer in zip(built["submissions"], answers, strict=True)
            ],
        )
        replies = await self.control("slack", "replies", calls_before=built["calls_before"])
        figures.update(
            {
                "issues": len(created),
                "distinct_keys": issues["keys"] - before,
                "started_at": started,
                "submit_seconds": round(submit_seconds, 3),
                "seconds": None,
                "issues_per_s": None,
                "ack_errors": sum(1 for a in answers if a.status != 200),
                "ack_actions": _count(_response_action(a.body) for a in answers),
                "ack_refused_by_slack": applied["refused"],
                "ack_p50_ms": summarize([a.seconds for a in answers])["p50_ms"],
                "ack_p99_ms": summarize([a.seconds for a in answers])["p99_ms"],
                "thread_replies": replies["count"],
                "thread_replies_ok": replies["ok"],
                "last_reply_s": None if replies["last_s"] is None else round(replies["last_s"], 3),
                # The bot's CPU time from the first submission until all was quiet (replies included).
                "bot_cpu_ms_per_issue": (
                    round(1000 * (bot_cpu_after - bot_cpu_before) / len(created), 2)
                    if created and bot_cpu_after is not None and bot_cpu_before is not None
                    else None
                ),
            }
        )
        if created and count:
            last = created[min(count, len(created)) - 1]
            seconds = max(last - started, 1e-6)
            figures["seconds"] = round(seconds, 3)
            figures["issues_per_s"] = round(min(count, len(created)) / seconds, 1)
        if applied["refused"]:
            print(f"    acks Slack would refuse: {applied['examples']}", flush=True)

    async def memory(self, when: str) -> None:
        memory = self.figures.setdefault("memory", {})
        for name in ("bot", "baseline"):
            memory[f"{name}_{when}_mb"] = rss_mb(self.p(name).pid)
            memory[f"{name}_peak_mb"] = peak_rss_mb(self.p(name).pid)


def _response_action(body: str) -> str:
    try:
        answer = json.loads(body) if body else None
    except ValueError:
        return "not json"
    return str(answer.get("response_action") or "none") if isinstance(answer, dict) else "none"


def _count(items: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in items:
        counts[item] = counts.get(item, 0) + 1
    return counts


async def run(args: argparse.Namespace) -> dict[str, Any]:
    plan = Plan.quick() if args.quick else Plan()
    if args.set:
        plan = dataclasses.replace(plan, **parse_overrides(args.set, plan))
    phases = set(args.phases.split(","))
    workdir = Path(tempfile.mkdtemp(prefix="jirabot-bench-"))
    procs = Processes(workdir)
    started_at = time.time()
    db_label = "postgresql" if args.postgres else "sqlite"
    try:
        async with contextlib.AsyncExitStack() as stack:
            http = await stack.enter_async_context(httpx.AsyncClient(timeout=30))
            bench = Bench(plan, procs, http, args.profile)
            bench.figures["meta"] = meta(args, plan, db_label)
            if args.postgres:
                database_url = await stack.enter_async_context(fresh_postgres())
            else:
                database_url = f"sqlite:///{workdir}/jirabot.sqlite3"

            ports = {name: free_port() for name in ("jira", "slack", "bot", "baseline")}
            python = sys.executable
            for world in ("jira", "slack"):
                env = child_env({})
                if world == "jira" and not args.jira_specs:
                    # Structural checks only: validating every body against the OpenAPI document costs
                    # the emulator milliseconds per request (the e2e tests do that, not the benchmark).
                    env["JIRABOT_SPECS_DIR"] = str(workdir / "no-specs")
                    env.pop("CI", None)
                procs.start(
                    world,
                    [python, "-m", "benchmarks.worlds", world, "--port", str(ports[world])],
                    ports[world],
                    env,
                )
            for world in ("jira", "slack"):
                await wait_ready(http, procs.procs[world], "/_bench/ping")
            bot_url = f"http://127.0.0.1:{ports['bot']}"
            await bench.control("jira", "setup", redirect_uri=f"{bot_url}/jira/oauth/callback")
            slack_url = procs.procs["slack"].url
            await bench.control("slack", "setup", base_url=slack_url, bot_url=bot_url)
            atlassian_url = procs.procs["jira"].url
            from storage.crypto import generate_key

            common = {
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "SLACK_BOT_TOKEN": BOT_TOKEN,
                "SLACK_API_URL": f"{slack_url}/api/",
                "LOG_LEVEL": "warning",
            }
            bot_env = child_env(
                {
                    **common,
                    "DATABASE_URL": database_url,
                    "JIRABOT_ENCRYPTION_KEY": generate_key(),
                    "ATLASSIAN_AUTH_URL": atlassian_url,
                    "ATLASSIAN_API_URL": atlassian_url,
                    "ATLASSIAN_CLIENT_ID": CLOUD_CLIENT_ID,
                    "ATLASSIAN_CLIENT_SECRET": CLOUD_CLIENT_SECRET,
                    "JIRABOT_PUBLIC_URL": bot_url,
                }
            )
            bot = procs.start(
                "bot",
                [
                    python,
                    "-m",
                    "bot",
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(ports["bot"]),
                    "--workers",
                    str(max(1, args.workers)),
                ],
                ports["bot"],
                bot_env,
            )
            baseline = procs.start(
                "baseline",
                [python, "-m", "benchmarks.baseline", "--port", str(ports["baseline"])],
                ports["baseline"],
                child_env(common),
            )
            await wait_ready(http, bot, "/healthz")
            await wait_ready(http, baseline, "/healthz")
            await asyncio.sleep(2.0)
            await bench.memory("rest")
            print(
                f"bot pid {bot.pid} ({db_label}), baseline pid {baseline.pid}; RSS at rest: "
                f"bot {bench.figures['memory']['bot_rest_mb']} MB, "
                f"baseline {bench.figures['memory']['baseline_rest_mb']} MB; logs in {workdir}",
                flush=True,
            )

            async def attempt(name: str, body: Any) -> None:
                try:
                    with bench.phase(name):
                        await body()
                except Exception as exc:  # a failed phase is reported, the others still run
                    bench.figures.setdefault("errors", {})[name] = f"{type(exc).__name__}: {exc}"[:4000]
                    print(f"!!! {name} failed: {type(exc).__name__}: {str(exc)[:2000]}", flush=True)
                    for proc in procs.procs.values():
                        if not proc.alive():
                            print(f"!!! {proc.name} died:\n{proc.log_tail()}", flush=True)

            if "ack" in phases:
                await attempt("ack", bench.ack)
            if phases & {"modal", "create", "probe"}:
                await attempt("link", bench.link)
                if "linked_users" in bench.figures:
                    if "probe" in phases:  # a debugging aid: what the bot's modal looks like
                        print(json.dumps(await bench.control("slack", "probe"), indent=1))
                    if "modal" in phases:
                        await attempt("modal", bench.modal)
                    if "create" in phases:
                        await attempt("create", bench.create)
            await asyncio.sleep(1.0)
            await bench.memory("after")
            bench.figures["cpu"] = bench.cpu
            bench.figures["emulators"] = {
                "slack": await bench.control("slack", "stats"),
                "jira": await bench.control("jira", "stats"),
            }
            bench.figures["meta"]["duration_s"] = round(time.time() - started_at, 1)
            return bench.figures
    finally:
        procs.stop_all()
        if args.keep_logs:
            print(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def meta(args: argparse.Namespace, plan: Plan, db_label: str) -> dict[str, Any]:
    def version(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    commit = None
    with contextlib.suppress(Exception):
        commit = (
            subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"],
                cwd=REPO_ROOT,
                capture_output=True,
                text=True,
                timeout=5,
            ).stdout.strip()
            or None
        )
    return {
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "quick": bool(args.quick),
        "workers": max(1, args.workers),
        "database": db_label,
        "plan": plan.__dict__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "commit": commit,
        "versions": {
            name: version(name)
            for name in ("slack_bolt", "slack_sdk", "uvicorn", "starlette", "aiohttp", "httpx", "SQLAlchemy")
        },
    }


# Report ----------------------------------------------------------------------------------------


def report(figures: dict[str, Any]) -> str:
    out: list[str] = []
    meta_ = figures.get("meta", {})
    ack = figures.get("ack")
    if ack:
        out.append(
            f"\nAcknowledgement: {ack['command']}, concurrency {ack['concurrency']}, "
            f"{ack['rounds']} x {ack['round_seconds']:g} s per app, alternating; ratio: median of "
            f"the rounds' ratios (of totals: {fmt_number(ack.get('ratio_of_totals'), 3)})"
        )
        rows = []
        for key, label in (("bot", "jirabot"), ("baseline", "bare Bolt")):
            f = ack[key]
            rows.append(
                [
                    label,
                    fmt_number(f["rps"], 1),
                    fmt_number(f["p50_ms"], 2),
                    fmt_number(f["p99_ms"], 2),
                    fmt_number(f["max_ms"], 1),
                    f["errors"],
                    fmt_number(f["server_cpu_pct"], 0),
                    fmt_number(f.get("server_cpu_us_per_request"), 0),
                    " ".join(f"{r:.0f}" for r in f["round_rps"]),
                ]
            )
        rows.append(
            [
                "jirabot / bare Bolt",
                fmt_number(ack["ratio"], 3, " x"),
                "",
                "",
                "",
                "",
                "",
                "",
                " ".join(f"{r:.2f}" for r in ack.get("round_ratios", [])),
            ]
        )
        out.append(
            format_table(
                [
                    "",
                    "req/s",
                    "p50 ms",
                    "p99 ms",
                    "max ms",
                    "errors",
                    "server CPU %",
                    "CPU us/req",
                    "req/s per round",
                ],
                rows,
            )
        )
    modal = figures.get("modal")
    if modal:
        out.append(
            f"\nModal: {modal['count']} message shortcuts by linked users, {modal['concurrency']} at a "
            f"time, Jira answering after {modal['jira_latency_s']:g} s (click -> views.open)"
        )
        out.append(
            format_table(
                ["", "opened", "p50 ms", "p95 ms", "max ms", "ack p50 ms", "ack p95 ms"],
                [
                    [
                        "jirabot",
                        f"{modal['opened']}/{modal['count']}",
                        fmt_number(modal["p50_ms"], 1),
                        fmt_number(modal["p95_ms"], 1),
                        fmt_number(modal["max_ms"], 1),
                        fmt_number(modal["ack_p50_ms"], 1),
                        fmt_number(modal["ack_p95_ms"], 1),
                    ]
                ],
            )
        )
    create = figures.get("create")
    if create:
        out.append(
            f"\nIssue creation: {create['submissions']} view submissions, {create['concurrency']} at a "
            f"time, Jira answering after {create['jira_latency_s']:g} s"
        )
        out.append(
            format_table(
                [
                    "",
                    "issues",
                    "seconds",
                    "issues/s",
                    "target/s",
                    "ack p50 ms",
                    "ack p99 ms",
                    "thread replies",
                    "bot CPU ms/issue",
                ],
                [
                    [
                        "jirabot",
                        f"{create.get('issues', '-')}/{create['submissions']}",
                        fmt_number(create.get("seconds"), 2),
                        fmt_number(create.get("issues_per_s"), 1),
                        fmt_number(create["target_per_s"], 0),
                        fmt_number(create.get("ack_p50_ms"), 1),
                        fmt_number(create.get("ack_p99_ms"), 1),
                        create.get("thread_replies", "-"),
                        fmt_number(create.get("bot_cpu_ms_per_issue"), 1),
                    ]
                ],
            )
        )
    memory = figures.get("memory")
    if memory:
        out.append("\nResident memory (VmRSS; peak is VmHWM)")
        out.append(
            format_table(
                ["", "at rest MB", "after load MB", "peak MB"],
                [
                    [
                        "jirabot",
                        fmt_number(memory.get("bot_rest_mb")),
                        fmt_number(memory.get("bot_after_mb")),
                        fmt_number(memory.get("bot_peak_mb")),
                    ],
                    [
                        "bare Bolt",
                        fmt_number(memory.get("baseline_rest_mb")),
                        fmt_number(memory.get("baseline_after_mb")),
                        fmt_number(memory.get("baseline_peak_mb")),
                    ],
                ],
            )
        )
    cpu = figures.get("cpu")
    if cpu:
        names = ["bot", "bot_loop", "baseline", "slack", "jira", "runner"]
        out.append(
            "\nCPU per process during each phase (% of one core; 2 cores = 200%; bot_loop: the bot's "
            "event-loop thread alone)"
        )
        out.append(
            format_table(
                ["phase", "wall s", *names],
                [
                    [
                        phase,
                        fmt_number(usage.get("wall_s"), 1),
                        *(fmt_number(usage.get(f"{n}_cpu_pct"), 0) for n in names),
                    ]
                    for phase, usage in cpu.items()
                ],
            )
        )
    for name, error in (figures.get("errors") or {}).items():
        out.append(f"\nERROR in {name}: {error[:1000]}")
    targets = evaluate_targets(figures)
    out.append(f"\nTargets ({meta_.get('cpus')} cores, {meta_.get('database')})")
    out.append(
        format_table(
            ["target", "goal", "measured", "verdict"], [[t.name, t.goal, t.value, t.verdict] for t in targets]
        )
    )
    out.append("")
    out.append(summary_line(figures, targets))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="a fresh PostgreSQL database on 127.0.0.1:5432 (user postgres) instead of SQLite",
    )
    parser.add_argument(
        "--quick", action="store_true", help="shorter rounds and fewer requests (a smoke run)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="run the bot as `jirabot serve --workers N` (memory and CPU then count all its processes)",
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=DEFAULT_JSON,
        help=f"where to write the figures (default {DEFAULT_JSON.relative_to(REPO_ROOT)})",
    )
    parser.add_argument(
        "--phases",
        default="ack,modal,create",
        help="comma-separated subset of ack,modal,create (default: all)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a figure of the plan, e.g. --set create_count=200 (repeatable; "
        "names: " + ", ".join(f.name for f in dataclasses.fields(Plan)) + ")",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        metavar="DIR",
        help="record the bot with py-spy during each phase (collapsed stacks in DIR)",
    )
    parser.add_argument(
        "--jira-specs",
        action="store_true",
        help="let the Atlassian emulator validate requests against the reference specs "
        "(slower emulator; off by default)",
    )
    parser.add_argument("--keep-logs", action="store_true", help="keep the processes' logs and database")
    args = parser.parse_args(argv)
    try:
        figures = asyncio.run(run(args))
    except KeyboardInterrupt:
        return 130
    targets = evaluate_targets(figures)
    figures["targets"] = [t.as_dict() for t in targets]
    figures["summary"] = summary_line(figures, targets)
    print(report(figures))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(figures, indent=2, default=str) + "\n")
    print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
