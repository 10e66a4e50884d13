"""The emulators for the benchmarks, each in its own process, with a small control API for the runner.

    python -m benchmarks.worlds jira --port P     # the Atlassian emulator (Cloud site "acme")
    python -m benchmarks.worlds slack --port P    # the Slack emulator and Slack's side of the traffic

The emulators from ``tests/emulators`` are served unchanged; requests under ``/_bench/{name}`` go to
the control handlers below instead (JSON body in, JSON out). Handlers run in worker threads, so the
emulator keeps answering the bot while a handler waits.

The Slack process also plays the people: it sends the bot message shortcuts and view submissions with
:class:`~tests.emulators.slack_driver.SlackDriver` (which needs the emulator's state: trigger ids,
response URLs, the views as stored), from a thread pool. Latencies of modals are read from the
emulator's own records (``trigger_latency``: from issuing the trigger, just before the shortcut is
sent, to the ``views.open`` call that used it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from benchmarks.common import (
    BOT_TOKEN,
    CHANNEL_ID,
    CLOUD_CLIENT_ID,
    CLOUD_CLIENT_SECRET,
    SIGNING_SECRET,
    TEAM_ID,
)

log = logging.getLogger("benchmarks.worlds")

SITE_NAME = "acme"
SITE_URL = f"https://{SITE_NAME}.atlassian.net"
PROJECT_KEY = "ENG"
ADMIN = ("U0ADMIN01", "5b10ac8d82e05b22cc7d4ada", "Ada Admin", "ada@acme.test")
USERS = [
    (f"U0BENCH{n:02d}", f"5b10ac8d82e05b22cc7d{n:04d}", f"Bench User {n}", f"bench{n}@acme.test")
    for n in range(1, 4)
]
"""Linked besides the admin (who is linked by the install); shortcuts rotate over all four."""

Handler = Callable[..., Any]


def with_control(inner: Any, handlers: dict[str, Handler]) -> Any:
    """An ASGI app: ``/_bench/{name}`` calls ``handlers[name](**json_body)`` in a thread; the rest
    goes to ``inner``."""

    async def control(request: Request) -> Response:
        handler = handlers.get(request.path_params["name"])
        if handler is None:
            return JSONResponse({"error": f"no handler {request.path_params['name']}"}, status_code=404)
        body = await request.body()
        args = await request.json() if body else {}
        try:
            result = await asyncio.to_thread(handler, **args)
        except Exception:
            trace = traceback.format_exc()
            log.error("control handler %s failed:\n%s", request.path_params["name"], trace)
            return JSONResponse({"error": trace}, status_code=500)
        return JSONResponse(result)

    controls = Starlette(routes=[Route("/_bench/{name}", control, methods=["GET", "POST"])])

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan" or (scope["type"] == "http" and scope["path"].startswith("/_bench/")):
            await controls(scope, receive, send)
        else:
            await inner(scope, receive, send)

    return app


def serve(app: Any, port: int) -> None:
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="on"
    )
    uvicorn.Server(config).run()


# Jira -------------------------------------------------------------------------------------------


class JiraSide:
    def __init__(self) -> None:
        from tests.emulators.atlassian import AtlassianEmulator

        self.emulator = AtlassianEmulator()

    def handlers(self) -> dict[str, Handler]:
        return {
            "ping": self.ping,
            "count": self.count,
            "setup": self.setup,
            "latency": self.latency,
            "issues": self.issues,
            "stats": self.stats,
        }

    def ping(self) -> dict[str, Any]:
        return {"ok": True}

    def count(self) -> dict[str, Any]:
        """Requests received so far (cheap, for waiting until all is quiet)."""
        return {"count": len(self.emulator.requests)}

    def setup(self, redirect_uri: str) -> dict[str, Any]:
        emu = self.emulator
        emu.add_cloud_app(CLOUD_CLIENT_ID, CLOUD_CLIENT_SECRET, [redirect_uri])
        site = emu.add_cloud_site(SITE_NAME)
        for _, account, name, email in [ADMIN, *USERS]:
            emu.add_user(account, name, email, sites=[site])
        emu.default_project(site, PROJECT_KEY, "Engineering")
        return {"site_url": site.url, "cloud_id": site.cloud_id}

    def latency(self, seconds: float) -> dict[str, Any]:
        """Every answer (auth server, API gateway) delayed by ``seconds``; 0 for none."""
        self.emulator.clear_latency()
        if seconds > 0:
            self.emulator.set_latency(seconds)
        return {"latency_s": seconds}

    def issues(self) -> dict[str, Any]:
        issues = self.emulator.issues()
        return {
            "count": len(issues),
            "created_at": sorted(i.created_at for i in issues),
            "keys": len({i.key for i in issues}),
        }

    def stats(self) -> dict[str, Any]:
        requests = self.emulator.requests
        by_path: dict[str, int] = {}
        for request in requests:
            key = f"{request.method} {_generic_path(request.path)}"
            by_path[key] = by_path.get(key, 0) + 1
        return {
            "requests": len(requests),
            "by_path": by_path,
            "internal_errors": len(self.emulator.internal_errors),
        }


def _generic_path(path: str) -> str:
    import re

    path = re.sub(r"/ex/jira/[^/]+", "/ex/jira/{cloudId}", path)
    return re.sub(r"/\d+(?=/|$)", "/{id}", path)


# Slack ------------------------------------------------------------------------------------------


@dataclass
class Prepared:
    user: str
    view_id: str
    values: dict[str, Any]


class SlackSide:
    def __init__(self) -> None:
        from tests.emulators.slack import SlackEmulator

        self.emulator = SlackEmulator(bot_token=BOT_TOKEN, team_id=TEAM_ID)
        self.bot_url: str | None = None
        self.linked: list[str] = []
        self.prepared: list[Prepared] = []
        self._local = threading.local()
        self._message_seq = 0
        self._seq_lock = threading.Lock()
        for user_id, _, name, email in [ADMIN, *USERS]:
            self.emulator.add_user(
                user_id, name.split()[0].lower(), real_name=name, email=email, admin=user_id == ADMIN[0]
            )

    def handlers(self) -> dict[str, Handler]:
        return {
            "ping": self.ping,
            "count": self.count,
            "setup": self.setup,
            "link": self.link,
            "modal": self.modal,
            "prepare": self.prepare,
            "submissions": self.submissions,
            "apply_acks": self.apply_acks,
            "replies": self.replies,
            "stats": self.stats,
            "probe": self.probe,
        }

    def ping(self) -> dict[str, Any]:
        return {"ok": True}

    def count(self) -> dict[str, Any]:
        """Web API calls received so far (cheap, for waiting until all is quiet)."""
        return {"count": len(self.emulator.calls)}

    def setup(self, base_url: str, bot_url: str) -> dict[str, Any]:
        self.emulator.base_url = base_url
        self.bot_url = bot_url
        return {"api_url": self.emulator.api_url}

    def _driver(self) -> Any:
        from tests.emulators.slack_driver import SlackDriver

        driver = getattr(self._local, "driver", None)
        if driver is None:
            assert self.bot_url is not None, "call setup first"
            driver = SlackDriver(self.bot_url, SIGNING_SECRET, self.emulator, timeout=30)
            self._local.driver = driver
        return driver

    def _next_message(self, user: str) -> dict[str, Any]:
        with self._seq_lock:
            self._message_seq += 1
            n = self._message_seq
        return {
            "text": f"Printer {n} on the third floor is on fire again\n"
            f"Seen by <@{user}> at 10:{n % 60:02d}, *please* have a look: <https://example.com/p/{n}|log>",
            "user": user,
        }

    # -- linking ------------------------------------------------------------------------------

    def link(self) -> dict[str, Any]:
        """The admin installs the Cloud site (which links them); the other users `/jira connect`."""
        driver = self._driver()
        statuses = {}
        result = driver.slash_command(ADMIN[0], f"admin install {SITE_URL}")
        statuses[ADMIN[0]] = self._authorize(result, ADMIN[1])
        for user_id, account, _, _ in USERS:
            result = driver.slash_command(user_id, "connect")
            statuses[user_id] = self._authorize(result, account)
        self.linked = [user for user, status in statuses.items() if status == 200]
        return {"statuses": statuses, "linked": self.linked}

    def _authorize(self, result: Any, account: str) -> int:
        emu = self.emulator
        posts = emu.wait_for(lambda: emu.responses(result.response_url), timeout=15)
        url = _button_url(posts[-1].body, "jira_connect_link")
        from tests.e2e.browser import Browser, confirmation_form

        with Browser(account) as browser:
            page = browser.open(url)  # the bot's start page, Jira's consent, the confirmation page
            return browser.confirm(page).status_code if confirmation_form(page) else page.status_code

    # -- modal latency ------------------------------------------------------------------------

    def _shortcut(self, index: int) -> tuple[str, Any]:
        user = self.linked[index % len(self.linked)]
        return user, self._driver().message_shortcut(user, CHANNEL_ID, self._next_message(user))

    def _wait_trigger(self, trigger_id: str, timeout: float) -> float | None:
        deadline = time.monotonic() + timeout
        while True:
            latency = self.emulator.trigger_latency(trigger_id)
            if latency is not None or time.monotonic() > deadline:
                return latency
            time.sleep(0.002)

    def modal(self, count: int, concurrency: int, timeout: float = 10.0) -> dict[str, Any]:
        """``count`` message shortcuts by linked users, ``concurrency`` at a time: per shortcut, the
        seconds to the ``views.open`` that used its trigger (None: never), and to the ack."""
        if not self.linked:
            raise RuntimeError("no linked user: call link first")

        def one(index: int) -> dict[str, Any]:
            _, result = self._shortcut(index)
            return {
                "open_s": self._wait_trigger(result.trigger_id, timeout),
                "ack_s": result.elapsed,
                "status": result.status_code,
            }

        with ThreadPoolExecutor(concurrency) as pool:
            return {"shortcuts": list(pool.map(one, range(count)))}

    def probe(self) -> dict[str, Any]:
        """One shortcut, and the modal it leads to once settled (to see what the bot renders)."""
        _, result = self._shortcut(0)
        view_id = self._opened_view(result.trigger_id, 10.0)
        time.sleep(1.0)
        return {
            "ack_status": result.status_code,
            "ack": result.text[:2000],
            "view": self.emulator.view(view_id) if view_id else None,
            "calls": [c.method for c in self.emulator.calls[-20:]],
        }

    # -- issue creation -----------------------------------------------------------------------

    def _opened_view(self, trigger_id: str, timeout: float) -> str | None:
        if self._wait_trigger(trigger_id, timeout) is None:
            return None
        for call in reversed(self.emulator.calls_to("views.open")):
            if call.params.get("trigger_id") == trigger_id and call.ok:
                return str(call.response["view"]["id"])
        return None

    def prepare(self, count: int, concurrency: int, timeout: float = 30.0) -> dict[str, Any]:
        """Opens ``count`` create-issue modals (one per new message) and waits until each can be
        submitted; they are kept for :meth:`submissions`. Not timed: this is the set-up of that phase."""
        self.prepared = []
        failures: list[str] = []
        lock = threading.Lock()
        started = time.monotonic()

        def one(index: int) -> None:
            user, result = self._shortcut(index)
            view_id = self._opened_view(result.trigger_id, timeout)
            if view_id is None:
                with lock:
                    failures.append(f"shortcut {index}: no views.open (ack {result.status_code})")
                return
            deadline = time.monotonic() + timeout
            values = None
            while time.monotonic() < deadline:
                values = submission_values(self.emulator.view(view_id))
                if values is not None:
                    break
                time.sleep(0.02)
            with lock:
                if values is None:
                    failures.append(
                        f"shortcut {index}: modal {view_id} never became submittable: "
                        f"{_describe_view(self.emulator.view(view_id))}"
                    )
                else:
                    self.prepared.append(Prepared(user, view_id, values))

        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(one, range(count)))
        return {
            "prepared": len(self.prepared),
            "failures": failures[:20],
            "failed": len(failures),
            "seconds": time.monotonic() - started,
        }

    def submissions(self) -> dict[str, Any]:
        """The prepared modals' ``view_submission`` bodies, built as ``SlackDriver.submit_view`` builds
        them (the view as stored, its state with the values a person chose, a fresh trigger_id), for
        the runner to send: during the timed part this process then only plays Slack's Web API."""
        driver = self._driver()
        bodies = []
        for item in self.prepared:
            view = self.emulator.view(item.view_id)
            state = driver._submission_state(view, item.values, check=True)
            payload = {
                **driver._common("view_submission", item.user),
                "trigger_id": self.emulator.new_trigger_id(
                    item.user, view_id=item.view_id, team_id=driver.team_id
                ),
                "view": driver._view_with_state(view, state),
                "response_urls": [],
            }
            bodies.append(
                {
                    "view_id": item.view_id,
                    "body": urlencode({"payload": json.dumps(payload, separators=(",", ":"))}),
                }
            )
        self.prepared = []
        self._submit_started = time.monotonic()
        return {"submissions": bodies, "calls_before": len(self.emulator.calls)}

    def apply_acks(self, acks: list[dict[str, Any]]) -> dict[str, Any]:
        """Applies the bot's answers to the submissions as Slack would (closes or updates the
        modals); counts what Slack would have refused."""
        refused: list[str] = []
        for ack in acks:
            if ack["status"] != 200:
                refused.append(f"{ack['view_id']}: HTTP {ack['status']}")
                continue
            body = json.loads(ack["body"]) if ack["body"] else None
            problems = self.emulator.apply_view_submission_ack(ack["view_id"], body)
            refused.extend(f"{ack['view_id']}: {problem}" for problem in problems)
        return {"refused": len(refused), "examples": refused[:5]}

    def replies(self, calls_before: int) -> dict[str, Any]:
        """Thread replies (chat.postMessage with thread_ts) since the submissions started."""
        started = getattr(self, "_submit_started", time.monotonic())
        posts = [
            c
            for c in self.emulator.calls[calls_before:]
            if c.method == "chat.postMessage" and c.params.get("thread_ts")
        ]
        last = max((c.at for c in posts), default=None)
        return {
            "count": len(posts),
            "ok": sum(1 for c in posts if c.ok),
            "last_s": None if last is None else last - started,
        }

    def stats(self) -> dict[str, Any]:
        by_method: dict[str, int] = {}
        errors: dict[str, int] = {}
        for call in self.emulator.calls:
            by_method[call.method] = by_method.get(call.method, 0) + 1
            if not call.ok:
                key = f"{call.method}:{call.error}"
                errors[key] = errors.get(key, 0) + 1
        return {"calls": by_method, "errors": errors}


def _describe_view(view: dict[str, Any]) -> str:
    texts = []
    for block in view.get("blocks") or []:
        text = block.get("text") or block.get("label") or {}
        if isinstance(text, dict) and text.get("text"):
            texts.append(f"{block.get('type')}: {text['text'][:120]}")
        else:
            texts.append(str(block.get("type")))
    return f"submit={bool(view.get('submit'))} blocks=[{'; '.join(texts)}]"


def _button_url(message: dict[str, Any], action_id: str) -> str:
    for block in message.get("blocks") or []:
        elements = list(block.get("elements") or [])
        if block.get("accessory"):
            elements.append(block["accessory"])
        for element in elements:
            if isinstance(element, dict) and element.get("action_id") == action_id and element.get("url"):
                return str(element["url"])
    raise RuntimeError(f"no {action_id} button in the bot's answer: {str(message)[:500]}")


def submission_values(view: dict[str, Any]) -> dict[str, Any] | None:
    """What a person types into the modal before submitting: inputs the bot prefilled are kept;
    required ones left empty get a value (a text, or a select's first option). None while the modal
    cannot be submitted yet (no submit button, or a required input we cannot fill)."""
    if view.get("type") != "modal" or not view.get("submit") or view.get("submit_disabled"):
        return None
    values: dict[str, Any] = {}
    has_input = False
    for block in view.get("blocks") or []:
        if block.get("type") != "input":
            continue
        has_input = True
        element = block.get("element") or {}
        kind = element.get("type")
        if block.get("optional") or _has_initial(element):
            continue
        if kind in ("plain_text_input", "rich_text_input"):
            values[block["block_id"]] = "Benchmark text"
        elif kind == "number_input":
            values[block["block_id"]] = "1"
        elif kind in ("static_select", "radio_buttons", "multi_static_select", "checkboxes"):
            options = list(element.get("options") or [])
            for group in element.get("option_groups") or []:
                options.extend(group.get("options") or [])
            if not options:
                return None
            first = options[0]["value"]
            values[block["block_id"]] = [first] if kind.startswith("multi") or kind == "checkboxes" else first
        elif kind == "datepicker":
            values[block["block_id"]] = "2030-01-01"
        else:
            return None
    return values if has_input else None


def _has_initial(element: dict[str, Any]) -> bool:
    return any(
        element.get(key)
        for key in (
            "initial_value",
            "initial_option",
            "initial_options",
            "initial_date",
            "initial_user",
            "initial_users",
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.worlds")
    parser.add_argument("world", choices=["jira", "slack"])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    side: JiraSide | SlackSide = JiraSide() if args.world == "jira" else SlackSide()
    serve(with_control(side.emulator.app, side.handlers()), args.port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
