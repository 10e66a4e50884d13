"""Typed failures of Jira and Atlassian calls.

    JiraError                       anything that went wrong talking to Jira or Atlassian
    ├── JiraUnavailable             connection failed or timed out; Jira never answered
    ├── JiraHTTPError               Jira answered with an error status
    │   ├── JiraBadRequest          400, with Jira's field `errors` and `error_messages`
    │   ├── JiraUnauthorized        401, token rejected
    │   ├── JiraForbidden           403
    │   ├── JiraNotFound            404
    │   ├── JiraRateLimited         429, with `retry_after` seconds
    │   └── JiraServerError         5xx, with `retry_after` seconds when the server sent one
    ├── OAuthError                  a token endpoint refused
    │   └── OAuthInvalidGrant       the code or refresh token is dead for good
    └── ReconnectRequired           the user's link needs a new authorization

Every error keeps the method and URL of its request (never its headers or body).
"""

from __future__ import annotations

from typing import Any


class JiraError(Exception):
    def __init__(self, message: str, *, method: str | None = None, url: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.url = url


class JiraUnavailable(JiraError):
    pass


class JiraHTTPError(JiraError):
    def __init__(
        self,
        message: str,
        *,
        status: int,
        method: str | None = None,
        url: str | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message, method=method, url=url)
        self.status = status
        self.body = body


class JiraBadRequest(JiraHTTPError):
    @property
    def errors(self) -> dict[str, str]:
        if isinstance(self.body, dict) and isinstance(self.body.get("errors"), dict):
            return {str(k): str(v) for k, v in self.body["errors"].items()}
        return {}

    @property
    def error_messages(self) -> list[str]:
        if isinstance(self.body, dict) and isinstance(self.body.get("errorMessages"), list):
            return [str(m) for m in self.body["errorMessages"]]
        return []


class JiraUnauthorized(JiraHTTPError):
    pass


class JiraForbidden(JiraHTTPError):
    pass


class JiraNotFound(JiraHTTPError):
    pass


class JiraRateLimited(JiraHTTPError):
    def __init__(self, message: str, *, retry_after: float | None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class JiraServerError(JiraHTTPError):
    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class OAuthError(JiraError):
    def __init__(
        self,
        message: str,
        *,
        error: str | None = None,
        status: int | None = None,
        method: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message, method=method, url=url)
        self.error = error
        self.status = status


class OAuthInvalidGrant(OAuthError):
    pass


class ReconnectRequired(JiraError):
    """The user's Jira link is broken (revoked or expired grant); they must connect again."""
