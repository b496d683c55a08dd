"""Each drift comparer (runbook/drift/*.py) on small hand-built graphs: one level at a time.

The graphs are built from the model's dataclasses, so that a failure points at one comparer, not at
the reader; the expected changes (kinds, summaries, lines) are written out by hand.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from runbook import drift
from runbook.drift import actions, expected, hosts, links, prose, steps, variables
from runbook.drift.context import Context
from runbook.drift.report import Change
from runbook.drift.table import COMPARERS, EXECUTABLE_KINDS, SECTIONS
from runbook.model import Action, Command, Expected, Graph, Group, Host, Prose, Source, Span, Statement, Step, Variable


def sp(line: int, end: int | None = None, file: str = "g.md") -> Span:
    return Span(file, line, end if end is not None else line)


def shell(step: str, n: int, text: str, line: int, targets: tuple[str, ...] = ("primary",)) -> Action:
    return Action(f"{step}#{n}", "shell", "bash", list(targets), "label", sp(line, line + 2), text,
                  commands=[Command(text, sp(line + 1))])


def sql(step: str, n: int, statement: str, line: int, exp: Expected | None = None) -> Action:
    return Action(f"{step}#{n}", "sql", "sql", ["primary"], "label", sp(line, line + 6), statement,
                  statements=[Statement(statement, sp(line + 1), exp)])


def edit(step: str, n: int, path: str, before: str, after: str, line: int) -> Action:
    return Action(f"{step}#{n}", "file_edit", "text", ["primary"], "label", sp(line, line + 8), after,
                  path=path, path_span=sp(line - 1), before=before, before_span=sp(line),
                  after=after, after_span=sp(line + 4))


def table(line: int, rows: list[list[str]], spacing: str = " ") -> Expected:
    lines = [f"{spacing}n{spacing}", "---", *[f"{spacing}{r[0]}" for r in rows], f"({len(rows)} rows)"]
    return Expected("table", lines, ["n"], rows, len(rows), span=sp(line, line + len(lines) - 1))


def step(sid: str, line: int, acts: list[Action], *, tag: str = "normal", title: str | None = None,
         texts: tuple[str, ...] = (), links_: tuple[str, ...] = ()) -> Step:
    paragraphs = [Prose(t, sp(line + 2 + k)) for k, t in enumerate(texts)]
    if links_:
        paragraphs.append(Prose("see", sp(line + 1), links=list(links_)))
    return Step(sid, None, tag, title or sid, title or sid, sp(line, line + 30), actions=acts, prose=paragraphs)


def graph(file: str, steps_: list[Step], *, lang: str = "en", title: str = "Guide",
          hosts_: list[Host] | None = None, groups: list[Group] | None = None,
          variables_: list[Variable] | None = None, prose_: list[Prose] | None = None) -> Graph:
    hs = hosts_ if hosts_ is not None else [Host("primary", "Primary", "primary", None, "10.0.0.1", "Debian", sp(5))]
    return Graph(Source(file, lang, title, "0" * 64, 200), hs, groups or [], variables_ or [], steps_, [], [], [],
                 prose_ or [], [])


def changes(comparer: Any, old: Graph, new: Graph) -> list[tuple[str, str, int, int]]:
    """(kind, summary, old line, new line) of what one comparer reports."""
    ctx = Context.of(old, new)
    out = []
    for c in comparer(ctx):
        c = ctx.masked(c)
        out.append((c.kind, c.summary, c.old.line if c.old else 0, c.new.line if c.new else 0))
    return out


BASE = [step("install", 10, [shell("install", 1, "apt install -y postgresql", 12)]),
        step("configure", 50, [edit("configure", 1, "/etc/pg.conf", "#port = 5432", "port = 5433", 55),
                               shell("configure", 2, "systemctl restart postgresql", 70)]),
        step("check", 100, [sql("check", 1, "SELECT n FROM t;", 102, table(104, [["1"], ["2"]]))])]


def test_hosts_comparer_reports_addresses_and_groups() -> None:
    two = [Host("primary", "P", "primary", None, "10.0.0.1", "Debian", sp(5)),
           Host("standby1", "S1", "standby", 1, "10.0.0.2", "Debian", sp(7))]
    moved = [two[0], replace(two[1], address="10.0.0.3", span=sp(8, file="h.md"))]
    old = graph("g.md", BASE, hosts_=two, groups=[Group("standbys", "S", ["standby1"])])
    new = graph("h.md", BASE, hosts_=moved, groups=[Group("standbys", "S", ["standby1", "standby2"])])
    assert changes(hosts.compare, old, new) == [
        ("host", "host standby1: address 10.0.0.2 → 10.0.0.3", 7, 8),
        ("host", "group standbys: members standby1 → standby1, standby2", 5, 5)]
    assert changes(hosts.compare, graph("g.md", BASE, hosts_=two), graph("h.md", BASE, hosts_=two[:1])) == [
        ("host", "host standby1 removed", 7, 5)]


def test_variables_comparer_never_shows_a_secret() -> None:
    old = graph("g.md", BASE, variables_=[Variable("pg_major", "15", "pg_major", False, sp(20)),
                                          Variable("password", "s3cret-old", "password", True, sp(21))])
    new = graph("h.md", BASE, variables_=[Variable("pg_major", "16", "pg_major", False, sp(22)),
                                          Variable("password", "s3cret-new", "password", True, sp(23)),
                                          Variable("db", "blog", "database", False, sp(24))])
    found = changes(variables.compare, old, new)
    assert found == [("variable", "variable pg_major: 15 → 16", 20, 22),
                     ("variable", "variable password: value changed", 21, 23),
                     ("variable", "variable db: added", 1, 24)]
    assert Context.of(old, new).changed_values == [("15", "16")]  # the secret's values are not among them


def test_steps_comparer_finds_renamed_moved_removed_and_added_steps() -> None:
    renamed = replace(BASE[0], id="install-postgresql", actions=[shell("install-postgresql", 1,
                                                                       "apt install -y postgresql", 12)])
    extra = step("extra", 150, [shell("extra", 1, "echo something entirely new", 152)])
    new = graph("h.md", [BASE[2], renamed, BASE[1], extra])
    found = changes(steps.compare, graph("g.md", BASE), new)
    assert found == [("step-renamed", "step renamed: install → install-postgresql", 10, 10),
                     ("step-moved", "step moved: position 3 → 1", 100, 100),
                     ("step-added", "step added (1 action(s))", 80, 150)]  # after configure, the step before it
    ctx = Context.of(graph("g.md", BASE), new)
    assert [(p.old.id, p.new.id) for p in ctx.steps] == [("configure", "configure"), ("check", "check"),
                                                         ("install", "install-postgresql")]
    # a step gone is placed, in the other file, before the next step both sides have
    assert changes(steps.compare, graph("g.md", BASE), graph("h.md", BASE[1:])) == [
        ("step-removed", "step removed (1 action(s))", 10, 50)]


def test_actions_comparer_reports_commands_targets_edits_and_blocks() -> None:
    new_steps = [
        step("install", 10, [shell("install", 1, "apt install -y postgresql-16", 12, targets=("primary", "standby1"))]),
        step("configure", 50, [edit("configure", 1, "/etc/pg.conf", "#port = 5432", "port = 5434", 55)]),
        BASE[2]]
    found = changes(actions.compare, graph("g.md", BASE), graph("h.md", new_steps))
    assert found == [("targets", "targets changed: primary → primary, standby1", 12, 12),
                     ("command", "command(s) changed", 13, 13),
                     ("edit", "after text changed (/etc/pg.conf)", 60, 60),
                     ("action-removed", "shell block removed (primary)", 70, 63)]  # where the edit before it ends


def test_a_path_that_follows_a_variable_change_says_so() -> None:
    def guide(file: str, major: str) -> Graph:
        conf = f"/etc/postgresql/{major}/main/postgresql.conf"
        return graph(file, [step("configure", 50, [edit("configure", 1, conf, "#port = 5432", "port = 5433", 55)])],
                     variables_=[Variable("pg_major", major, "pg_major", False, sp(20))])

    assert changes(actions.compare, guide("g.md", "15"), guide("h.md", "16")) == [
        ("edit", "file path changed: /etc/postgresql/15/main/postgresql.conf → "
                 "/etc/postgresql/16/main/postgresql.conf (follows the variable change)", 54, 54)]


def test_expected_comparer_compares_meaning_not_spacing() -> None:
    def guide(file: str, exp: Expected, lang: str = "en") -> Graph:
        return graph(file, [step("check", 100, [sql("check", 1, "SELECT n FROM t;", 102, exp)])], lang=lang)

    old = guide("g.md", table(104, [["1"], ["2"]]))
    assert changes(expected.compare, old, guide("h.md", table(104, [["1"], ["2"]], spacing="   "))) == []
    assert changes(expected.compare, old, guide("h.md", table(106, [["1"], ["3"]]))) == [
        ("expected", "expected output changed: SELECT n FROM t;", 104, 106)]

    def error(message: str, sqlstate: str) -> Expected:
        return Expected("error", [f"ERROR:  {message}"], span=sp(104),
                        error={"severity": "ERROR", "message": message, "sqlstate": sqlstate})

    ja = guide("g.ja.md", error("リレーション\"t\"は存在しません", "42P01"), lang="ja")
    assert changes(expected.compare, ja, guide("g.en.md", error('relation "t" does not exist', "42P01"))) == []
    assert changes(expected.compare, ja, guide("g.en.md", error('relation "t" does not exist', "42703"))) == [
        ("expected", "expected output changed: SELECT n FROM t;", 104, 104)]


def test_prose_comparer_reads_titles_and_paragraphs_only_within_one_language() -> None:
    old = graph("g.md", [step("install", 10, [], texts=("Install it.",))], prose_=[Prose("Intro.", sp(3))])
    new = graph("h.md", [step("install", 10, [], tag="optional", texts=("Install it now.",))],
                prose_=[Prose("Intro.", sp(3))], title="The guide")
    assert changes(prose.compare, old, new) == [("tag", "tag normal → optional", 10, 10),
                                                ("paragraph", "paragraph changed", 12, 12),
                                                ("guide-title", "guide title changed", 1, 1)]
    other_lang = replace(new, source=replace(new.source, lang="ja"))
    assert changes(prose.compare, old, other_lang) == [("tag", "tag normal → optional", 10, 10)]


def test_links_comparer_ignores_the_language_segment_between_languages() -> None:
    def guide(file: str, lang: str, link: str) -> Graph:
        return graph(file, [step("install", 10, [], links_=(link,))], lang=lang)

    ja = guide("g.ja.md", "ja", "https://pgroonga.github.io/ja/install/debian.html")
    assert changes(links.compare, ja, guide("g.en.md", "en", "https://pgroonga.github.io/en/install/debian.html")) == []
    assert changes(links.compare, ja, guide("g.en.md", "en", "https://pgroonga.github.io/en/install/ubuntu.html")) \
        == [("link", "link target changed: https://pgroonga.github.io/ja/install/debian.html → "
                     "https://pgroonga.github.io/en/install/ubuntu.html", 11, 11)]


def test_links_localized_for_each_language_are_the_same_link(tmp_path: Any) -> None:
    """Between languages: a language edition of a site (ja.wikipedia.org / en.wikipedia.org) and a
    prefix the site's _config.yml gives per language are not drift; another page, another site, or
    the same pair within one language, are."""
    (tmp_path / "_config.yml").write_text("doc:\n  base:\n    en: https://www.postgresql.org/docs/17\n"
                                          "    ja: https://www.postgresql.jp/document/16/html/\n", encoding="utf-8")

    def guide(name: str, lang: str, *links_: str) -> Graph:
        return graph(str(tmp_path / name), [step("usage", 10, [], links_=links_)], lang=lang)

    ja = guide("g.ja.md", "ja", "https://ja.wikipedia.org/wiki/%E7%89%87%E4%BB%AE%E5%90%8D",
               "https://www.postgresql.jp/document/16/html/functions-json.html#F")
    en = guide("g.en.md", "en", "https://www.postgresql.org/docs/17/functions-json.html#F",
               "https://en.wikipedia.org/wiki/Katakana")
    assert changes(links.compare, ja, en) == []
    other_page = guide("g.en.md", "en", "https://www.postgresql.org/docs/17/functions-string.html#F",
                       "https://en.wikipedia.org/wiki/Katakana")
    assert [c[1] for c in changes(links.compare, ja, other_page)] == [
        "link target changed: https://www.postgresql.jp/document/16/html/functions-json.html#F → "
        "https://www.postgresql.org/docs/17/functions-string.html#F"]
    other_site = guide("g.en.md", "en", "https://www.postgresql.org/docs/17/functions-json.html#F",
                       "https://en.wiktionary.org/wiki/Katakana")
    assert len(changes(links.compare, ja, other_site)) == 1
    same_lang = guide("h.ja.md", "ja", "https://www.postgresql.jp/document/16/html/functions-json.html#F",
                      "https://en.wikipedia.org/wiki/Katakana")
    assert len(changes(links.compare, ja, same_lang)) == 1


def test_the_table_declares_each_kind_once_in_report_order() -> None:
    kinds = [k for c in COMPARERS for k in c.sections]
    assert len(kinds) == len(set(kinds)) == len(SECTIONS)
    assert list(SECTIONS)[:4] == ["step-added", "step-removed", "step-moved", "step-renamed"]
    assert EXECUTABLE_KINDS == {"step-added", "step-removed", "step-moved", "step-renamed", "host", "variable",
                                "action-added", "action-removed", "targets", "command", "edit", "write", "expected",
                                "localized-data"}


def test_the_driver_refuses_a_kind_its_comparer_does_not_declare(monkeypatch: pytest.MonkeyPatch) -> None:
    def rogue(ctx: Context) -> list[Change]:
        return [Change("link", "not mine", None, None)]

    monkeypatch.setattr(drift, "COMPARERS", (drift.table.Comparer(rogue, {"host": "Hosts"}, executable=True),))
    with pytest.raises(ValueError, match="undeclared kind 'link'"):
        drift.compare(graph("g.md", BASE), graph("h.md", BASE))


def test_the_driver_masks_secrets_and_splits_executable_from_prose() -> None:
    secret = [Variable("password", "hunter2-secret", "password", True, sp(21))]
    old = graph("g.md", [step("install", 10, [shell("install", 1, "echo hunter2-secret", 12)], texts=("A",))],
                variables_=secret)
    new = graph("h.md", [step("install", 10, [shell("install", 1, "echo hunter2-secret again", 12)], texts=("B",))],
                variables_=secret)
    report = drift.compare(old, new)
    assert [c.kind for c in report.executable] == ["command"] and [c.kind for c in report.prose] == ["paragraph"]
    assert "hunter2-secret" not in drift.render(report) and "********" in drift.render(report)
