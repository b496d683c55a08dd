"""The JSON Schemas of the reports (``runner/schema/``: a guide's run, a site's run) and the check
every report written or read passes (:func:`checked`: all errors, each with its JSON path)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import jsonschema

from runbook.errors import SchemaError
from runbook.kinds import Severity
from runbook.model import Finding, Span


@cache
def load_report_schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((resources.files("runner") / "schema" / "report.schema.json").read_text())
    return data


def checked(data: dict[str, Any], schema: dict[str, Any], what: str) -> dict[str, Any]:
    """``data`` if it satisfies ``schema``; else a :class:`SchemaError` with every error and its JSON path."""
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(data))
    if errors:
        raise SchemaError(f"{what} does not satisfy its schema",
                          [Finding("schema", Severity.ERROR, f"{list(e.absolute_path)}: {e.message}",
                                   Span("report", 1, 1)) for e in errors])
    return data


@cache
def load_site_report_schema() -> dict[str, Any]:
    text = (resources.files("runner") / "schema" / "site-report.schema.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data
