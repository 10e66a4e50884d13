"""Schema checks for the Atlassian emulator: the Jira Cloud OpenAPI document and the ADF schema.

Both come from ``tests.specs.load_spec``. Where a spec is absent (outside CI), the functions here fall
back to the structural checks that can be made without it; ``specs_available()`` tells which applies.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from typing import Any

from jsonschema import Draft4Validator, Draft7Validator
from referencing import Registry
from referencing.jsonschema import DRAFT7

from tests.specs import load_spec

JIRA_OPENAPI = "jira-cloud-platform.openapi.v3.json"
ADF_SCHEMA = "adf-full.schema.json"
_OPENAPI_URI = "urn:jirabot-tests:jira-cloud-openapi"

# Classic Jira scopes, plus the non-Jira scopes a Jira 3LO app may ask for.
CLASSIC_JIRA_SCOPES = frozenset(
    {
        "read:jira-work",
        "write:jira-work",
        "read:jira-user",
        "manage:jira-project",
        "manage:jira-configuration",
        "manage:jira-webhook",
        "manage:jira-data-provider",
    }
)
EXTRA_SCOPES = frozenset({"offline_access", "read:me", "read:account"})
_GRANULAR_SCOPE = re.compile(r"^(read|write|delete|manage|validate|send):[a-z0-9.\-]+:jira$")


def specs_available() -> bool:
    return load_spec(JIRA_OPENAPI) is not None and load_spec(ADF_SCHEMA) is not None


@lru_cache(maxsize=1)
def known_scopes() -> frozenset[str] | None:
    """Every OAuth 2.0 scope the OpenAPI document declares, or None without the spec."""
    doc = load_spec(JIRA_OPENAPI)
    if doc is None:
        return None
    try:
        flows = doc["components"]["securitySchemes"]["OAuth2"]["flows"]
        return frozenset(flows["authorizationCode"]["scopes"])
    except (KeyError, TypeError):
        return None


def is_known_scope(scope: str) -> bool:
    if scope in EXTRA_SCOPES or scope in CLASSIC_JIRA_SCOPES:
        return True
    declared = known_scopes()
    if declared is not None:
        return scope in declared
    return bool(_GRANULAR_SCOPE.match(scope))


@lru_cache(maxsize=1)
def _openapi_registry() -> Registry | None:
    doc = load_spec(JIRA_OPENAPI)
    if doc is None:
        return None
    return Registry().with_resource(_OPENAPI_URI, DRAFT7.create_resource(doc))


@cache
def openapi_validator(schema_name: str) -> Draft7Validator | None:
    """A validator for ``#/components/schemas/<schema_name>`` of the Jira Cloud OpenAPI document."""
    registry = _openapi_registry()
    if registry is None:
        return None
    schema = {"$ref": f"{_OPENAPI_URI}#/components/schemas/{schema_name}"}
    return Draft7Validator(schema, registry=registry)


@lru_cache(maxsize=1)
def _adf_validator() -> Draft4Validator | None:
    schema = load_spec(ADF_SCHEMA)
    if schema is None:
        return None
    return Draft4Validator(schema)


def schema_errors(schema_name: str, instance: Any) -> list[str] | None:
    """Messages for an instance against an OpenAPI component schema, or None without the spec."""
    validator = openapi_validator(schema_name)
    if validator is None:
        return None
    return [_describe(error) for error in validator.iter_errors(instance)]


def _describe(error: Any) -> str:
    where = "/".join(str(part) for part in error.absolute_path)
    return f"{where or '<root>'}: {error.message[:300]}"


# --- IssueUpdateDetails --------------------------------------------------------------------------

_FIELD_UPDATE_OPS = {"add", "copy", "edit", "remove", "set"}


def issue_update_errors(body: Any) -> list[str]:
    """Why a create-issue body does not fit ``IssueUpdateDetails`` (empty when it does)."""
    spec = schema_errors("IssueUpdateDetails", body)
    if spec is not None:
        return spec
    # Structural fallback: the parts of IssueUpdateDetails that matter for creating issues.
    if not isinstance(body, dict):
        return ["<root>: the body must be a JSON object"]
    errors: list[str] = []
    if "fields" in body and not isinstance(body["fields"], dict):
        errors.append("fields: must be an object")
    update = body.get("update")
    if update is not None:
        if not isinstance(update, dict):
            errors.append("update: must be an object")
        else:
            for name, ops in update.items():
                if not isinstance(ops, list):
                    errors.append(f"update/{name}: must be an array")
                    continue
                for op in ops:
                    if not isinstance(op, dict) or set(op) - _FIELD_UPDATE_OPS:
                        errors.append(f"update/{name}: bad operation {op!r}")
    props = body.get("properties")
    if props is not None and not (
        isinstance(props, list) and all(isinstance(p, dict) and set(p) <= {"key", "value"} for p in props)
    ):
        errors.append("properties: must be an array of {key, value}")
    return errors


# --- Atlassian Document Format -------------------------------------------------------------------


def adf_errors(document: Any) -> list[str]:
    """Why a value is not a valid ADF document (empty when it is)."""
    validator = _adf_validator()
    if validator is not None:
        return [_describe(error) for error in validator.iter_errors(document)]
    return _adf_structural_errors(document)


def _adf_structural_errors(document: Any) -> list[str]:
    if not isinstance(document, dict):
        return ["<root>: an ADF document is an object"]
    errors: list[str] = []
    if document.get("type") != "doc":
        errors.append("type: must be 'doc'")
    if document.get("version") != 1:
        errors.append("version: must be 1")
    content = document.get("content")
    if not isinstance(content, list):
        errors.append("content: must be an array")
        return errors
    _check_nodes(content, "content", errors, depth=0)
    return errors


_BLOCK_TYPES = {
    "paragraph",
    "heading",
    "bulletList",
    "orderedList",
    "listItem",
    "codeBlock",
    "blockquote",
    "panel",
    "rule",
    "table",
    "tableRow",
    "tableCell",
    "tableHeader",
    "mediaSingle",
    "mediaGroup",
    "media",
    "expand",
    "nestedExpand",
    "taskList",
    "taskItem",
    "decisionList",
    "decisionItem",
    "blockCard",
    "embedCard",
    "layoutSection",
    "layoutColumn",
    "extension",
    "bodiedExtension",
}
_INLINE_TYPES = {
    "text",
    "hardBreak",
    "mention",
    "emoji",
    "date",
    "status",
    "inlineCard",
    "placeholder",
    "inlineExtension",
    "mediaInline",
}


def _check_nodes(nodes: list[Any], where: str, errors: list[str], depth: int) -> None:
    if depth > 30:
        errors.append(f"{where}: nested too deeply")
        return
    for index, node in enumerate(nodes):
        path = f"{where}/{index}"
        if not isinstance(node, dict) or not isinstance(node.get("type"), str):
            errors.append(f"{path}: a node is an object with a string 'type'")
            continue
        kind = node["type"]
        if kind not in _BLOCK_TYPES | _INLINE_TYPES:
            errors.append(f"{path}: unknown node type {kind!r}")
            continue
        if kind == "text":
            text = node.get("text")
            if not isinstance(text, str) or not text:
                errors.append(f"{path}/text: a text node needs a non-empty string")
            if set(node) - {"type", "text", "marks"}:
                errors.append(f"{path}: unexpected properties on a text node")
            marks = node.get("marks", [])
            if not isinstance(marks, list) or not all(
                isinstance(m, dict) and isinstance(m.get("type"), str) for m in marks
            ):
                errors.append(f"{path}/marks: marks are objects with a string 'type'")
        children = node.get("content")
        if children is not None:
            if not isinstance(children, list):
                errors.append(f"{path}/content: must be an array")
            else:
                _check_nodes(children, f"{path}/content", errors, depth + 1)
