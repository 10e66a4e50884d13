"""Encryption at rest with MultiFernet.

Keys come newest first: encryption uses the first, decryption tries each. Rotating a key means putting
a new key in front; the key-rotation job re-encrypts what older keys still protect.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

log = logging.getLogger(__name__)

KEY_FILE_NAME = "jirabot.key"


class DecryptionError(Exception):
    """A stored secret could not be decrypted with any configured key."""


def parse_keys(raw: str) -> list[Fernet]:
    """Parses a comma-separated list of Fernet keys; ValueError names what is wrong."""
    keys = [part.strip() for part in raw.split(",") if part.strip()]
    if not keys:
        raise ValueError("no key given (generate one with `jirabot keygen`)")
    fernets = []
    for index, key in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(key.encode("ascii")))
        except (ValueError, UnicodeEncodeError):
            raise ValueError(
                f"key {index} is not a valid Fernet key (32 url-safe base64-encoded bytes; "
                "generate one with `jirabot keygen`)"
            ) from None
    return fernets


def generate_key() -> str:
    return Fernet.generate_key().decode("ascii")


class Encryptor:
    """Encrypts with the newest key, decrypts with any."""

    def __init__(self, keys: list[Fernet]) -> None:
        if not keys:
            raise ValueError("at least one key is required")
        self._primary = keys[0]
        self._multi = MultiFernet(keys)
        self._reported: set[tuple[str, object]] = set()

    @classmethod
    def from_string(cls, raw: str) -> Encryptor:
        return cls(parse_keys(raw))

    def encrypt(self, plaintext: str) -> str:
        return self._multi.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._multi.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise DecryptionError("stored secret cannot be decrypted with the configured keys") from None

    def encrypt_optional(self, plaintext: str | None) -> str | None:
        return None if plaintext is None else self.encrypt(plaintext)

    def decrypt_optional(self, token: str | None) -> str | None:
        return None if token is None else self.decrypt(token)

    def decrypt_or_none(self, token: str | None, *, what: str, ref: object) -> str | None:
        """`token` decrypted; None when no configured key decrypts it (the key it needs was dropped
        or replaced). The cause is logged once per `what` and `ref` (a row id), not at every read."""
        if token is None:
            return None
        try:
            return self.decrypt(token)
        except DecryptionError:
            if (what, ref) not in self._reported:
                self._reported.add((what, ref))
                log.warning(
                    "storage.secret_undecryptable",
                    extra={"what": what, "ref": ref,
                           "hint": "no key in JIRABOT_ENCRYPTION_KEY decrypts it: was the key that "
                                   "encrypted it removed or replaced? It must be connected again"},
                )
            return None

    def needs_rotation(self, token: str) -> bool:
        """True when the newest key does not decrypt `token` but an older key does."""
        try:
            self._primary.decrypt(token.encode("ascii"))
        except InvalidToken:
            try:
                self._multi.decrypt(token.encode("ascii"))
            except InvalidToken:
                return False  # no configured key decrypts it: rotating cannot help
            return True
        return False

    def rotate(self, token: str) -> str:
        """Re-encrypts `token` with the newest key."""
        try:
            return self._multi.rotate(token.encode("ascii")).decode("ascii")
        except InvalidToken:
            raise DecryptionError("stored secret cannot be decrypted with the configured keys") from None


def load_or_create_key_file(directory: Path) -> str:
    """The embedded default: a key file beside the SQLite database, created with mode 0600."""
    path = directory / KEY_FILE_NAME
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    directory.mkdir(parents=True, exist_ok=True)
    key = generate_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    log.warning(
        "storage.key_file_created",
        extra={"path": str(path), "hint": "set JIRABOT_ENCRYPTION_KEY and keep the key safe"},
    )
    return key
