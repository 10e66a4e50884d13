"""Reading the Jira site URL an admin types."""

from __future__ import annotations

import pytest

from bot.jira.sites import SiteUrlError, normalise_site_url, parse_site_url


@pytest.mark.parametrize(
    "text, url, cloud",
    [
        ("https://acme.atlassian.net", "https://acme.atlassian.net", True),
        ("acme.atlassian.net/", "https://acme.atlassian.net", True),
        ("HTTPS://ACME.Atlassian.net", "https://acme.atlassian.net", True),
        ("<https://acme.atlassian.net|acme.atlassian.net>", "https://acme.atlassian.net", True),
        (
            "https://acme.atlassian.net/jira/software/projects/ENG/boards/1",
            "https://acme.atlassian.net",
            True,
        ),
        ("https://jira.corp.example", "https://jira.corp.example", False),
        ("https://corp.example/jira/", "https://corp.example/jira", False),
        ("https://corp.example/jira/browse/ENG-12", "https://corp.example/jira", False),
        ("https://jira.corp.example:8443/secure/Dashboard.jspa", "https://jira.corp.example:8443", False),
        ("http://127.0.0.1:8080/jira", "http://127.0.0.1:8080/jira", False),
    ],
)
def test_good_urls(text: str, url: str, cloud: bool) -> None:
    site = parse_site_url(text)
    assert (site.url, site.cloud) == (url, cloud)


def test_a_shortened_url_and_http_are_noted() -> None:
    assert (
        "I used the site https://acme.atlassian.net"
        in parse_site_url("https://acme.atlassian.net/browse/ENG-1").notes[0]
    )
    assert any("http://" in note for note in parse_site_url("http://jira.corp.example").notes)
    assert parse_site_url("https://acme.atlassian.net").notes == []


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "Please give your Jira site's URL"),
        ("acme please", "without other words"),
        ("ftp://acme.atlassian.net", "is not a web address"),
        ("https://", "is not a valid URL"),
        ("https://localhostx", "is not a valid URL"),
        ("[", "is not a valid URL"),
        ("https://[::1", "is not a valid URL"),
        ("https://jira.corp.example:99999", "invalid port"),
    ],
)
def test_bad_input_is_explained_with_an_example(text: str, message: str) -> None:
    with pytest.raises(SiteUrlError) as caught:
        parse_site_url(text)
    assert message in str(caught.value)
    assert "https://" in str(caught.value)


def test_normalised_urls_compare_scheme_case_and_trailing_slash() -> None:
    assert normalise_site_url("HTTPS://Acme.Atlassian.NET/") == normalise_site_url(
        "https://acme.atlassian.net"
    )
    assert normalise_site_url("https://corp.example/jira/") == "https://corp.example/jira"
