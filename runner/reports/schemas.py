"""The JSON Schemas of the reports (``runner/schema/``: a guide's run, a site's run) and the check
every report written or read passes (:func:`checked`: all errors, each with its JSON path)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from runbook.errors import SchemaError, UsageError
from runbook.kinds import Severity
from runbook.model import Finding, Span


@cache
def load_report_schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((resources.files("runner") / "schema" / "report.schema.json").read_text())
    return data


def checked(data: dict[str, Any], schema: dict[str, Any], what: str) -> dict[str, Any]:
    """``data`` if it satisfies ``schema``; else a :class:`SchemaError` with every error and its JSON path."""
    import jsonschema  # (here: a run that writes no JSON report needs no schema; start-up time)

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


def read_report(path: Path, who: str, kinds: tuple[str, ...] = ("site",), need: str = "") -> dict[str, Any]:
    """A JSON report written by ``runbook run --json`` read back: a site's (``kinds`` has ``site``) or
    a guide's (``guide``), checked against its schema; else a usage error that names ``who`` asks,
    the file and, for a report of the wrong shape, the first place it differs (``need`` says why the
    report is needed)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise UsageError(f"{who}: {path}: no such file{need}") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{who}: {path}: not a JSON report ({exc})") from exc
    schemas = {"site": ("site-report", load_site_report_schema), "guide": ("report", load_report_schema)}
    wanted = [schemas[k] for k in kinds]
    if "guide" in kinds and isinstance(data, dict) and "pages" not in data:
        wanted.reverse()  # a guide's report is told by what the other is not: its own schema's error first
    first = ""
    for _, load in wanted:
        wrong = misfit(data, load())
        if not wrong:
            result: dict[str, Any] = data
            return result
        first = first or wrong
    which = " or ".join(f"runbook schema {n}" for n, _ in wanted)
    raise UsageError(f"{who}: {path}: not a {' or '.join(kinds)} report ({which}): {first}")


def misfit(data: Any, schema: dict[str, Any]) -> str:
    """Where ``data`` first differs from ``schema`` and how (``at pages/0/status: 'x' is not one of
    [...]``: the shallowest error, the most telling); empty where it satisfies it."""
    import jsonschema

    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(data))
    if error is None:
        return ""
    where = "/".join(str(x) for x in error.absolute_path) or "the top"
    return f"at {where}: {error.message}"
