"""Which hosts a Jira Data Center base URL may point to (`JIRABOT_JIRA_HOSTS`).

The policy judges a connection by the host name it was asked for and the address it resolved to;
`bot.jira.fence` applies it to every connection the bot opens to a Data Center site.

- `JIRABOT_JIRA_HOSTS` set: only the listed host names, IP addresses and CIDR ranges. A listed name
  allows what it resolves to, except link-local and cloud metadata addresses, which only an IP or
  range entry can allow.
- unset, single-workspace mode: any address except link-local and cloud metadata ones.
- unset, multi-workspace mode (anyone who installs the app can type a URL): public addresses only.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Link-local ranges (where cloud metadata services live) and AWS's IPv6 metadata address.
ALWAYS_FENCED: tuple[IPNetwork, ...] = (
    ipaddress.ip_network("169.254.0.0/16"),
    ipaddress.ip_network("fe80::/10"),
    ipaddress.ip_network("fd00:ec2::254/128"),
)


class HostListError(ValueError):
    """An entry of JIRABOT_JIRA_HOSTS is neither a host name, an IP address nor a CIDR range."""


def plain_address(address: IPAddress) -> IPAddress:
    """IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are judged as the IPv4 address they carry."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _normal_name(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def is_fenced_always(address: IPAddress) -> bool:
    address = plain_address(address)
    return any(address in network for network in ALWAYS_FENCED if network.version == address.version)


@dataclass(frozen=True)
class HostPolicy:
    names: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()
    configured: bool = False
    public_only: bool = False

    @classmethod
    def from_setting(cls, entries: Iterable[str] | None, *, multi_workspace: bool) -> HostPolicy:
        """The policy for JIRABOT_JIRA_HOSTS (None or empty: the mode's default)."""
        listed = [entry.strip() for entry in entries or () if entry.strip()]
        if not listed:
            return cls(public_only=multi_workspace)
        names: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in listed:
            networks_or_name = parse_entry(entry)
            if isinstance(networks_or_name, str):
                names.add(networks_or_name)
            else:
                networks.append(networks_or_name)
        return cls(names=frozenset(names), networks=tuple(networks), configured=True)

    def allows(self, host: str, address: IPAddress) -> bool:
        """May the bot connect to `address`, resolved from `host` (a name or an IP literal)?"""
        address = plain_address(address)
        if self.configured:
            if any(address in network for network in self.networks if network.version == address.version):
                return True
            return _normal_name(host) in self.names and not is_fenced_always(address)
        if self.public_only:
            return address.is_global and not is_fenced_always(address)
        return not is_fenced_always(address)

    def describe(self) -> str:
        """What is allowed, in words for the install form."""
        if self.configured:
            listed = sorted(self.names) + [
                str(network.network_address) if network.num_addresses == 1 else str(network)
                for network in self.networks
            ]
            return "Allowed Data Center hosts (JIRABOT_JIRA_HOSTS): " + ", ".join(listed) + "."
        if self.public_only:
            return (
                "Data Center sites must be reachable at a public address; the bot's operator can allow "
                "internal hosts with JIRABOT_JIRA_HOSTS."
            )
        return (
            "Any Data Center host is allowed except link-local and cloud metadata addresses "
            "(169.254.0.0/16, fe80::/10); the bot's operator can narrow this with JIRABOT_JIRA_HOSTS."
        )


_HOST_LABEL = "abcdefghijklmnopqrstuvwxyz0123456789-"


def parse_entry(entry: str) -> str | IPNetwork:
    """One JIRABOT_JIRA_HOSTS entry: a CIDR range or IP address (as a network), or a host name."""
    text = entry.strip()
    try:
        return ipaddress.ip_network(text.strip("[]"), strict=False)
    except ValueError:
        pass
    name = _normal_name(text)
    labels = name.split(".")
    if not name or any(not label or set(label) - set(_HOST_LABEL) for label in labels):
        raise HostListError(f"{entry!r} is not a host name, IP address or CIDR range")
    return name
