"""The host fence, applied where connections are made: every connection to a Data Center site resolves
its host, checks each address against the `HostPolicy`, and connects to a checked address itself.

So a name that resolves to a public address when typed and to 169.254.169.254 a second later (DNS
rebinding) is refused at the connection that would have reached it. A refused host fails exactly like
an unreachable one (`httpx.ConnectError`), so callers, and people, cannot tell them apart.

Atlassian Cloud's endpoints come from the operator's own settings (ATLASSIAN_AUTH_URL,
ATLASSIAN_API_URL), not from what an admin typed, and pass without the fence.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import os
import socket
import ssl
import typing
import urllib.request
from collections.abc import Awaitable, Callable, Iterable

import certifi
import httpcore
import httpx

from bot.jira.hosts import HostPolicy, IPAddress

log = logging.getLogger(__name__)

Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]
REFUSED = "connection refused by the host fence"


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to (an IP literal is its own address), in resolver order."""
    literal = host.strip("[]")
    try:
        return [ipaddress.ip_address(literal)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found


class FencedBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that connects only to addresses the policy allows."""

    def __init__(
        self,
        policy: HostPolicy,
        *,
        resolver: Resolver = resolve,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self.policy = policy
        self._resolve = resolver
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await asyncio.wait_for(self._resolve(host, port), timeout)
        except (OSError, TimeoutError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}") from exc
        allowed = [address for address in addresses if self.policy.allows(host, address)]
        if not allowed:
            log.warning(
                "jira.host.refused",
                extra={"host": host[:255], "port": port, "addresses": ",".join(map(str, addresses[:4]))},
            )
            raise httpcore.ConnectError(REFUSED)
        failure: Exception | None = None
        for address in allowed:
            try:
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError(REFUSED)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One TLS context for every Jira and Atlassian connection of the process (loading a CA bundle
    costs tens of milliseconds). `SSL_CERT_FILE` or `SSL_CERT_DIR` when set, for a Data Center whose
    certificate a company CA signed, Data Center connections included; else certifi's bundle."""
    if os.environ.get("SSL_CERT_FILE"):
        return ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    if os.environ.get("SSL_CERT_DIR"):
        return ssl.create_default_context(capath=os.environ["SSL_CERT_DIR"])
    return ssl.create_default_context(cafile=certifi.where())


def fenced_transport(
    policy: HostPolicy, *, limits: httpx.Limits, resolver: Resolver = resolve
) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose every connection goes through a `FencedBackend`."""
    transport = httpx.AsyncHTTPTransport(limits=limits, trust_env=False, verify=tls_context())
    pool = transport._pool
    # httpx builds the pool without a way to pass a network backend; the pool hands this one to every
    # connection it opens.
    assert hasattr(pool, "_network_backend"), "httpcore's connection pool changed"
    pool._network_backend = FencedBackend(policy, resolver=resolver)
    return transport


class JiraTransport(httpx.AsyncBaseTransport):
    """Sends Atlassian Cloud calls as they are, and everything else through the fence.

    A URL is an Atlassian Cloud call when it lies under ATLASSIAN_AUTH_URL or ATLASSIAN_API_URL, and,
    if its path has a `/rest/` segment (Jira's REST API), under `/ex/` (Cloud REST goes through
    `{ATLASSIAN_API_URL}/ex/jira/{cloudId}/rest/…`; a Data Center site's is `{base}/rest/…`).
    """

    def __init__(
        self,
        trusted_bases: Iterable[str],
        *,
        trusted: httpx.AsyncBaseTransport,
        fenced: httpx.AsyncBaseTransport,
    ) -> None:
        self._bases = tuple(base.rstrip("/") + "/" for base in trusted_bases)
        self._trusted = trusted
        self._fenced = fenced

    def is_trusted(self, url: httpx.URL) -> bool:
        text = str(url.copy_with(query=None, fragment=None))
        for base in self._bases:
            if text.startswith(base):
                rest = "/" + text[len(base) :]
                return "/rest/" not in rest or rest.startswith("/ex/")
        return False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        transport = self._trusted if self.is_trusted(request.url) else self._fenced
        return await transport.handle_async_request(request)

    async def aclose(self) -> None:
        await self._trusted.aclose()
        await self._fenced.aclose()


def environment_proxy(urls: Iterable[str]) -> str | None:
    """The proxy HTTP(S)_PROXY names for these URLs (unless NO_PROXY exempts one), as httpx would use."""
    proxies = urllib.request.getproxies()
    for url in urls:
        parts = httpx.URL(url)
        if proxies.get(parts.scheme) and not urllib.request.proxy_bypass(parts.host):
            return proxies[parts.scheme]
    return None


def build_jira_transport(
    policy: HostPolicy, *, trusted_bases: Iterable[str], limits: httpx.Limits, resolver: Resolver = resolve
) -> JiraTransport:
    """Atlassian Cloud calls keep the environment's proxy; Data Center calls never use one (the fence
    must see the address it connects to)."""
    bases = list(trusted_bases)
    return JiraTransport(
        bases,
        trusted=httpx.AsyncHTTPTransport(limits=limits, proxy=environment_proxy(bases), verify=tls_context()),
        fenced=fenced_transport(policy, limits=limits, resolver=resolver),
    )
