"""Encryption at rest, key files, and logs that never carry a secret."""

from __future__ import annotations

import json
import logging
import stat
from pathlib import Path

import pytest

from bot.logs import JsonFormatter, RedactingFilter, redact
from storage.crypto import DecryptionError, Encryptor, generate_key, load_or_create_key_file, parse_keys


def test_encrypts_with_the_newest_key_and_decrypts_with_any() -> None:
    old, new = generate_key(), generate_key()
    before = Encryptor.from_string(old)
    token = before.encrypt("refresh-token-value")
    assert "refresh-token-value" not in token
    rotated = Encryptor.from_string(f"{new},{old}")
    assert rotated.decrypt(token) == "refresh-token-value"
    assert rotated.needs_rotation(token)
    fresh = rotated.rotate(token)
    assert not rotated.needs_rotation(fresh)
    assert Encryptor.from_string(new).decrypt(fresh) == "refresh-token-value"
    with pytest.raises(DecryptionError):
        Encryptor.from_string(generate_key()).decrypt(token)


def test_bad_keys_are_named_by_position() -> None:
    with pytest.raises(ValueError, match="key 2 is not a valid Fernet key"):
        parse_keys(f"{generate_key()},nope")
    with pytest.raises(ValueError, match="no key given"):
        parse_keys(" , ")


def test_the_key_file_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    key = load_or_create_key_file(tmp_path / "data")
    path = tmp_path / "data" / "jirabot.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key_file(tmp_path / "data") == key
    Encryptor.from_string(key)


@pytest.mark.parametrize(
    "text",
    [
        "token xoxb-1234-5678-abcdef used",
        "Authorization: Bearer eyJhbGciOi.abc.def",
        "POST /token refresh_token=abc123&client_secret=zzz",
        '{"access_token": "abc123", "x": 1}',
        "xapp-1-A1-123-abc",
    ],
)
def test_secrets_are_redacted(text: str) -> None:
    out = redact(text)
    for secret in ("1234-5678-abcdef", "eyJhbGciOi", "abc123", "zzz", "A1-123-abc"):
        assert secret not in out


def test_json_log_lines_carry_fields_but_no_secrets() -> None:
    record = logging.makeLogRecord(
        {"msg": "jira.oauth.refreshed", "levelno": logging.INFO, "levelname": "INFO", "name": "bot"}
    )
    record.team_id = "T1"
    record.access_token = "plain-token"
    record.detail = "Bearer abc.def"
    RedactingFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["event"] == "jira.oauth.refreshed" and line["team_id"] == "T1"
    assert line["access_token"] == "[redacted]"
    assert "abc.def" not in json.dumps(line)


def test_a_secret_no_key_decrypts_reads_as_none_logged_once_and_is_not_rotated(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="storage.crypto")
    sealed = Encryptor.from_string(generate_key()).encrypt("refresh-token")
    other = Encryptor.from_string(f"{generate_key()},{generate_key()}")
    assert [other.decrypt_or_none(sealed, what="tokens", ref=7) for _ in range(3)] == [None, None, None]
    assert other.decrypt_or_none(None, what="tokens", ref=7) is None
    logged = [r for r in caplog.records if r.getMessage() == "storage.secret_undecryptable"]
    assert len(logged) == 1 and "refresh-token" not in caplog.text
    assert not other.needs_rotation(sealed)  # the key-rotation job skips it instead of failing
