"""JIRABOT_JIRA_HOSTS: the policy, and the transport that applies it to every connection."""

from __future__ import annotations

import asyncio
import ipaddress

import httpx
import pytest

from bot.jira.fence import REFUSED, JiraTransport, build_jira_transport, fenced_transport, tls_context
from bot.jira.hosts import HostListError, HostPolicy, parse_entry
from bot.settings import SettingsError, load_settings

ip = ipaddress.ip_address
SINGLE = HostPolicy.from_setting(None, multi_workspace=False)
MULTI = HostPolicy.from_setting([], multi_workspace=True)


@pytest.mark.parametrize(
    "address", ["169.254.169.254", "169.254.0.1", "fe80::1", "fd00:ec2::254", "::ffff:169.254.169.254"]
)
def test_link_local_and_metadata_addresses_are_refused_by_default_in_both_modes(address: str) -> None:
    assert not SINGLE.allows("metadata.internal", ip(address))
    assert not MULTI.allows("metadata.internal", ip(address))


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "192.168.0.10", "::1", "fd00::1"])
def test_single_workspace_allows_private_hosts_and_multi_workspace_only_public_ones(address: str) -> None:
    assert SINGLE.allows("jira.internal", ip(address))
    assert not MULTI.allows("jira.internal", ip(address))


def test_multi_workspace_allows_public_addresses() -> None:
    assert MULTI.allows("jira.example.com", ip("93.184.216.34"))
    assert MULTI.allows("jira.example.com", ip("2606:2800:220:1:248:1893:25c8:1946"))
    assert not MULTI.allows("jira.example.com", ip("100.64.0.1"))  # carrier-grade NAT is not public
    assert not MULTI.allows("jira.example.com", ip("::ffff:127.0.0.1"))


def test_a_configured_list_replaces_the_default() -> None:
    policy = HostPolicy.from_setting(
        ["jira.internal", "10.0.0.5", "10.1.0.0/16", "[fd12::1]"], multi_workspace=True
    )
    assert policy.allows("10.0.0.5", ip("10.0.0.5"))
    assert policy.allows("anything", ip("10.1.200.7"))  # by range, whatever the name
    assert policy.allows("JIRA.internal.", ip("192.168.1.1"))  # by name, whatever it resolves to
    assert policy.allows("fd12::1", ip("fd12::1"))
    assert not policy.allows("jira.internal", ip("169.254.169.254"))  # a name never reaches metadata
    assert not policy.allows("other.internal", ip("192.168.1.1"))
    assert not policy.allows("jira.example.com", ip("93.184.216.34"))  # public hosts too must be listed
    assert HostPolicy.from_setting(["169.254.169.254"], multi_workspace=False).allows(
        "x", ip("169.254.169.254")
    )


def test_entries_are_checked_and_bad_ones_named() -> None:
    assert parse_entry("Jira.Example.com") == "jira.example.com"
    assert str(parse_entry("10.1.2.0/24")) == "10.1.2.0/24"
    for bad in ("http://jira", "jira_example.com", "a..b", "10.0.0.0/33x"):
        with pytest.raises(HostListError):
            parse_entry(bad)
    with pytest.raises(SettingsError) as raised:
        load_settings(
            slack_signing_secret="s",
            slack_bot_token="xoxb-1",
            database_url="",
            jirabot_jira_hosts="jira.ok, http://bad",
            _env_file=None,
        )
    assert (
        raised.value.problems[0].startswith("JIRABOT_JIRA_HOSTS:")
        and "http://bad" in raised.value.problems[0]
    )
    settings = load_settings(
        slack_signing_secret="s",
        slack_bot_token="xoxb-1",
        database_url="",
        jirabot_jira_hosts="jira.ok,10.0.0.0/8",
        _env_file=None,
    )
    assert settings.jira_host_policy.allows("x", ip("10.9.9.9"))


def test_the_install_form_text_says_what_is_allowed() -> None:
    assert "public address" in MULTI.describe() and "JIRABOT_JIRA_HOSTS" in MULTI.describe()
    assert "169.254.0.0/16" in SINGLE.describe()
    listed = HostPolicy.from_setting(["jira.internal", "10.0.0.0/8"], multi_workspace=False)
    assert "jira.internal, 10.0.0.0/8" in listed.describe()


# The transport ------------------------------------------------------------------------------------


class TinyServer:
    """An HTTP server on 127.0.0.1 that counts the connections it accepts."""

    def __init__(self) -> None:
        self.connections = 0
        self.server: asyncio.Server | None = None
        self.port = 0

    async def __aenter__(self) -> TinyServer:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            await writer.drain()
            writer.close()

        self.server = await asyncio.start_server(handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


def _client(policy: HostPolicy, resolver=None) -> httpx.AsyncClient:
    limits = httpx.Limits(max_keepalive_connections=0)
    kwargs = {"resolver": resolver} if resolver else {}
    return httpx.AsyncClient(transport=fenced_transport(policy, limits=limits, **kwargs), timeout=5)


async def test_a_refused_host_gets_no_connection_and_fails_like_an_unreachable_one() -> None:
    async with TinyServer() as server:
        refused = HostPolicy.from_setting(["10.0.0.0/8"], multi_workspace=False)
        async with _client(refused) as client:
            with pytest.raises(httpx.ConnectError) as raised:
                await client.post(f"http://127.0.0.1:{server.port}/rest/oauth2/latest/token", data={"a": "b"})
        assert REFUSED in str(raised.value)
        assert server.connections == 0
        async with _client(HostPolicy.from_setting(["127.0.0.1"], multi_workspace=False)) as client:
            response = await client.get(f"http://127.0.0.1:{server.port}/")
        assert response.text == "ok" and server.connections == 1


async def test_each_connection_checks_the_address_it_connects_to_so_rebinding_is_refused() -> None:
    answers = [[ip("127.0.0.1")], [ip("169.254.169.254")]]
    asked: list[str] = []

    async def rebinding(host: str, port: int):
        asked.append(host)
        return answers[min(len(asked), len(answers)) - 1]

    policy = HostPolicy.from_setting(["jira.rebind.test"], multi_workspace=False)
    async with TinyServer() as server, _client(policy, rebinding) as client:
        first = await client.get(f"http://jira.rebind.test:{server.port}/")
        assert first.text == "ok"
        with pytest.raises(httpx.ConnectError):
            await client.get(f"http://jira.rebind.test:{server.port}/")
    assert asked == ["jira.rebind.test", "jira.rebind.test"]
    assert server.connections == 1


async def test_an_unresolvable_host_fails_like_a_refused_one() -> None:
    async def nowhere(host: str, port: int):
        raise OSError("Name or service not known")

    async with _client(SINGLE, nowhere) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("http://jira.invalid/")


def test_only_atlassian_cloud_endpoints_pass_without_the_fence() -> None:
    transport = JiraTransport(
        ["https://auth.atlassian.com", "https://api.atlassian.com"],
        trusted=httpx.AsyncHTTPTransport(),
        fenced=httpx.AsyncHTTPTransport(),
    )
    trusted = transport.is_trusted
    assert trusted(httpx.URL("https://auth.atlassian.com/oauth/token"))
    assert trusted(httpx.URL("https://api.atlassian.com/oauth/token/accessible-resources"))
    assert trusted(httpx.URL("https://api.atlassian.com/ex/jira/abc/rest/api/3/myself?x=1"))
    assert trusted(httpx.URL("https://api.atlassian.com/app/report-accounts/"))
    assert not trusted(httpx.URL("https://jira.example.com/rest/api/2/myself"))
    assert not trusted(httpx.URL("https://api.atlassian.com.evil.test/oauth/token"))
    assert not trusted(httpx.URL("https://api.atlassian.com/jira/rest/oauth2/latest/token"))


async def test_the_bots_client_fences_data_center_calls() -> None:
    limits = httpx.Limits(max_keepalive_connections=0)
    async with TinyServer() as server:
        base = f"http://127.0.0.1:{server.port}"
        transport = build_jira_transport(
            HostPolicy.from_setting(["10.0.0.0/8"], multi_workspace=False),
            trusted_bases=[base],
            limits=limits,
        )
        async with httpx.AsyncClient(transport=transport, timeout=5) as client:
            assert (await client.get(f"{base}/oauth/token/accessible-resources")).text == "ok"
            with pytest.raises(httpx.ConnectError):
                await client.post(f"{base}/jira/rest/oauth2/latest/token")
        assert server.connections == 1


def test_cloud_calls_keep_the_environments_proxy_and_no_proxy(monkeypatch) -> None:
    from bot.jira.fence import environment_proxy

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.test:3128")
    monkeypatch.setenv("NO_PROXY", "auth.internal")
    assert environment_proxy(["https://api.atlassian.com"]) == "http://proxy.test:3128"
    assert environment_proxy(["https://auth.internal"]) is None
    monkeypatch.delenv("HTTPS_PROXY")
    assert environment_proxy(["https://api.atlassian.com"]) is None


def _company_ca(path) -> None:
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Acme Internal CA")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def test_a_company_ca_named_by_ssl_cert_file_is_what_jira_connections_trust(tmp_path, monkeypatch) -> None:
    bundle = tmp_path / "company-ca.pem"
    _company_ca(bundle)
    tls_context.cache_clear()
    try:
        monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
        trusted = tls_context().get_ca_certs()
        assert [dict(part[0] for part in cert["subject"])["commonName"] for cert in trusted] == [
            "Acme Internal CA"
        ]
        transport = build_jira_transport(
            SINGLE, trusted_bases=["https://api.atlassian.com"], limits=httpx.Limits()
        )
        # Data Center connections (fenced) and Atlassian's (trusted) both verify with it.
        assert transport._fenced._pool._ssl_context is tls_context()
        assert transport._trusted._pool._ssl_context is tls_context()
        monkeypatch.delenv("SSL_CERT_FILE")
        monkeypatch.delenv("SSL_CERT_DIR", raising=False)
        tls_context.cache_clear()
        assert len(tls_context().get_ca_certs()) > 50  # certifi's public CAs
    finally:
        tls_context.cache_clear()
