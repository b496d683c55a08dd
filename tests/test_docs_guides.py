"""The guides of docs/guides/ (tagged guides, ja and en): what every one of them shows, read from its
own text: its steps (the tagged headings and the summary's links), its hosts (the environment list),
its file edits (the path paragraphs and their before/after blocks), its psql sessions, and that its
two languages give the same graph up to prose. The facts proper to each guide are in
test_docs_guide_facts.py."""

from __future__ import annotations

import re

from docs_pages import Pages, environment, fences, graph, path_paragraphs, psql_lines, step_headings, summary_ids, text

from runbook.drift import compare
from runbook.model import Action

PAGES = Pages()

PAIRS = ["streaming-replication-wal-resource-manager", "synchronous-replication", "logical-replication",
         "rhel-logical-replication", "basic-streaming-replication", "master-slave-replication"]
"""The tagged guides (docs/guides/README.md); slow-query-log is untagged (test_docs_guide_facts.py)."""
TAGGED = [f"docs/guides/{name}.{lang}.md" for name in PAIRS for lang in ("ja", "en")]

BEFORE = re.compile(r"^(Before|変更前)\s*[:：]\s*$")


def _block(body: list[str]) -> str:
    """A block's text as the graph keeps it: its lines, each ending with a newline."""
    return "".join(line + "\n" for line in body)


def _file_actions(page: str) -> list[Action]:
    return [a for a in graph(page).actions() if a.kind in ("file_edit", "file_write")]


@PAGES(*TAGGED)
def test_steps_are_the_tagged_headings_in_the_summarys_order(page: str) -> None:
    g = graph(page)
    headings = step_headings(page)
    assert g.shape == "guide"
    assert [s.id for s in g.steps] == [h.id for h in headings]
    assert [s.title for s in g.steps] == [h.title for h in headings]
    assert [s.span.line for s in g.steps] == [h.line for h in headings]
    assert [s.number for s in g.steps] == list(range(1, len(headings) + 1))
    assert summary_ids(page) == [h.id for h in headings]


@PAGES(*TAGGED)
def test_hosts_are_the_environment_list(page: str) -> None:
    g = graph(page)
    env = [h for h in environment(page) if h.address]
    assert [(h.label, h.address) for h in g.hosts] == [(h.label, h.address) for h in env]
    assert [h.span.line for h in g.hosts] == [h.line for h in env]


@PAGES(*[p for p in TAGGED if path_paragraphs(p)])
def test_each_path_paragraph_is_a_file_edit_of_that_file(page: str) -> None:
    """`/etc/…/postgresql.conf`: then Before/After blocks is an edit (before and after as written);
    then one block, a write of that block."""
    lines = text(page).split("\n")
    blocks = fences(page)
    actions = _file_actions(page)
    for n, file in path_paragraphs(page):
        after_path = [f for f in blocks if f.line > n]
        action = next(a for a in actions if a.span.line > n)
        assert action.path == file, f"{page}:{n}"
        edit = any(BEFORE.match(x) for x in lines[n:after_path[0].line - 1])
        if edit:
            before, after = after_path[0], after_path[1]
            assert (action.kind, action.span.line) == ("file_edit", after.line), f"{page}:{n}"
            assert (action.before, action.after) == (_block(before.body), _block(after.body)), f"{page}:{n}"
        else:
            assert (action.kind, action.span.line) == ("file_write", after_path[0].line), f"{page}:{n}"
            assert action.code == _block(after_path[0].body), f"{page}:{n}"


@PAGES(*TAGGED)
def test_each_psql_command_opens_a_session_on_its_database(page: str) -> None:
    g = graph(page)
    opening = {c.span.line: a for a in g.actions() for c in a.commands if c.opens_session}
    assert sorted(opening) == [n for n, _ in psql_lines(page)]
    for n, database in psql_lines(page):
        action = opening[n]
        sessions = [s for s in g.sessions if s.opened_by == action.id]
        assert sorted(s.host for s in sessions) == sorted(action.targets), f"{page}:{n}"
        assert {s.database for s in sessions} == {database}, f"{page}:{n}"
    # every SQL block runs in a session of a host it runs on
    for a in g.actions():
        if a.kind == "sql":
            assert sorted(a.sessions) == sorted(a.targets), a.id
            assert all(g.session(s).host == h for h, s in a.sessions.items()), a.id


@PAGES(*[f"docs/guides/{name}.ja.md" for name in PAIRS], "docs/guides/slow-query-log.ja.md")
def test_the_two_languages_give_the_same_graph_up_to_prose(page: str) -> None:
    """The English page is the Japanese one translated: drift finds nothing that would run
    differently (prose and link targets only)."""
    en = page.replace(".ja.md", ".en.md")
    report = compare(graph(page), graph(en))
    assert report.executable == []
    assert {c.kind for c in report.prose} <= {"link"}
    ja_g, en_g = graph(page), graph(en)
    assert [[a.kind for a in s.actions] for s in ja_g.steps] == [[a.kind for a in s.actions] for s in en_g.steps]


@PAGES("docs/guides/README.md")
def test_the_readme_lists_guides_that_exist_and_runs_nothing(page: str) -> None:
    g = graph(page)
    assert (g.shape, g.steps, g.findings) == ("not-executable", [], [])
    named = re.findall(r"`([\w.-]+\.(?:ja|en)\.md)`", text(page))
    here = {p.rsplit("/", 1)[1] for p in TAGGED} | {"slow-query-log.ja.md", "slow-query-log.en.md"}
    assert here <= set(named)
