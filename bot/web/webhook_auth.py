"""Proof that a webhook delivery comes from Jira: one verifier per flavour, knowing nothing of Slack.

- Jira Cloud (dynamic webhooks of an OAuth 2.0 app): `Authorization: Bearer <JWT>`, HS256, signed with
  the app's client secret. Its signature and `exp` prove the delivery; other claims vary and are not
  relied on.
- Jira Data Center: `X-Hub-Signature: sha256=<hex HMAC-SHA256 of the raw body>` with the tenant's
  webhook secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

#: Clock skew tolerated on `exp`, in seconds.
LEEWAY = 30


class Unverified(Exception):
    """The delivery is not proven genuine; `reason` is a short event key for logs."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _b64url(part: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError) as exc:
        raise Unverified("jwt_malformed") from exc


def verify_cloud_jwt(authorization: str | None, secret: str, *, now: float) -> dict[str, Any]:
    """Checks the bearer JWT's HS256 signature and expiry; returns its claims."""
    if not authorization or not authorization.startswith("Bearer "):
        raise Unverified("jwt_missing")
    token = authorization[len("Bearer ") :].strip()
    parts = token.split(".")
    if len(parts) != 3 or not all(parts):
        raise Unverified("jwt_malformed")
    try:
        header = json.loads(_b64url(parts[0]))
        claims = json.loads(_b64url(parts[1]))
    except ValueError as exc:
        raise Unverified("jwt_malformed") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise Unverified("jwt_malformed")
    if header.get("alg") != "HS256":
        raise Unverified("jwt_algorithm")
    expected = hmac.new(
        secret.encode("utf-8"), f"{parts[0]}.{parts[1]}".encode("ascii"), hashlib.sha256
    ).digest()
    if not hmac.compare_digest(expected, _b64url(parts[2])):
        raise Unverified("jwt_signature")
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        raise Unverified("jwt_no_expiry")
    if exp + LEEWAY < now:
        raise Unverified("jwt_expired")
    return claims


def dc_signature(body: bytes, secret: str) -> str:
    """The `X-Hub-Signature` value Jira Data Center sends for `body` signed with `secret`."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_dc_signature(header: str | None, body: bytes, secret: str) -> None:
    if not header:
        raise Unverified("signature_missing")
    if not hmac.compare_digest(header.strip().lower().encode(), dc_signature(body, secret).encode()):
        raise Unverified("signature_mismatch")
