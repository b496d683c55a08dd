"""A guide's run as files for tools: the JSON report (schema: ``runbook schema report``) and JUnit
XML (a test case per action)."""

from __future__ import annotations

import dataclasses
import time
import xml.etree.ElementTree as ET
from typing import Any

from ..running.results import RunResult
from ..status import Status
from ..untrusted import visible
from .schemas import checked, load_report_schema


def to_json(result: RunResult) -> dict[str, Any]:
    data = dataclasses.asdict(result)
    data["schema_version"] = "1"
    counts: dict[str, int] = {}
    for s in result.steps:
        counts[s.status] = counts.get(s.status, 0) + 1
    data["summary"] = counts
    data["started"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(result.started))
    for s in data["steps"]:
        for a in s["actions"]:
            del a["soft"]  # the run's own bookkeeping
            for c in a["checks"]:
                for k in ("expected_span", "statement_span"):
                    if c[k] is not None:
                        c[k] = list(c[k])
    return checked(data, load_report_schema(), "the run report")


def to_junit(result: RunResult) -> str:
    suite = ET.Element("testsuite", name=result.guide, tests="0", failures="0", skipped="0",
                       time=f"{result.duration:.3f}")
    n = failures = skipped = 0
    for step in result.steps:
        for a in step.actions or []:
            n += 1
            case = ET.SubElement(suite, "testcase", classname=f"{result.guide}.{step.id}",
                                 name=f"{a.action} on {a.host} (line {a.line})", time=f"{a.duration:.3f}")
            if a.status == Status.FAILED:
                failures += 1
                el = ET.SubElement(case, "failure", message=a.message or "failed")
                el.text = "\n".join([a.details] + [p for c in a.checks for p in c.problems])
            elif a.status in (Status.BLOCKED, Status.NOT_RUN, Status.SKIPPED, Status.DONE_EARLIER):
                skipped += 1
                ET.SubElement(case, "skipped", message=f"{a.status}: {a.message or step.reason}")
        if not step.actions and step.status in (Status.BLOCKED, Status.SKIPPED, Status.DONE_EARLIER):
            n += 1
            skipped += 1
            case = ET.SubElement(suite, "testcase", classname=f"{result.guide}.{step.id}", name=step.id)
            ET.SubElement(case, "skipped", message=f"{step.status}: {step.reason}")
    suite.set("tests", str(n))
    suite.set("failures", str(failures))
    suite.set("skipped", str(skipped))
    root = ET.Element("testsuites")
    root.append(suite)
    return junit_text(root)


def junit_text(root: ET.Element) -> str:
    """The XML of ``root``, every text and attribute with its control characters made visible (XML
    1.0 cannot hold them; a CI's JUnit reader would refuse the file)."""
    for el in root.iter():
        if el.text:
            el.text = visible(el.text, lines=True)
        for k, v in el.attrib.items():
            el.set(k, visible(v, lines=True))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
