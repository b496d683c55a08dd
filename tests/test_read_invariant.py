"""The reader's invariant: every graph ``parse`` returns satisfies the graph schema.

Pages are put together from the pieces real guides and pages are made of (tagged and untagged
headings, labels, paths, edit markers, environment lists, annotations, fences of every kind with
odd contents); whatever the reader makes of them, it either raises a :class:`RunbookError` with its
findings or returns a graph that validates.  A schema failure here is the parser's fault, never the
page's.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runbook.errors import RunbookError
from runbook.parse import parse_text
from runbook.validate import errors

HEADINGS = st.sampled_from([
    "# ガイド", "# Guide", "## 概要", "## Summary", "## [通常] 設定する {#configure}",
    "## [normal] Configure {#configure}",
    "## [固有] PGroongaを入れる {#pgroonga}", "## [?] unknown tag", "## Usage", "## 使い方 {#usage}", "## Usage",
    "### Sample {#sample}", "### Details", "#### More", "## `LIKE`演算子", "## {#only-id}", "##", "### [通常] nested",
])
PARAGRAPHS = st.sampled_from([
    "プライマリー：", "スタンバイ1：", "Primary:", "Standby2:", "`/etc/postgresql/15/main/postgresql.conf`:",
    "`/tmp/x.conf`：", "変更前：", "変更後：", "Before:", "After:", "プライマリーとスタンバイで実行します。",
    "Run on primary only.", "このドキュメントでは次の環境を使います。", "We use the following environment.",
    "Some prose with a [link](https://example.com/ja/x.html).", "<!-- runbook: hosts=primary -->",
    "<!-- runbook: hosts=nosuch -->", "1. [[通常] 設定する](#configure)",
    "  * プライマリー：\n\n    * IPアドレス：192.168.0.30",
    "  * Primary:\n\n    * IP address: 192.168.0.30\n    * Database: blog", "{% raw %}", "{% endraw %}",
])
CODE = st.sampled_from([
    "", "\n", "# only a comment\n", "echo hello\n", "sudo -H systemctl restart postgresql\n", "psql blog\n",
    "cat <<EOF > /tmp/x\nline\nEOF\n", "a \\\n  b\n", "$ psql blog\nPassword: (secret)\n", "output only\n", "$\n",
    "SELECT 1;\n--  ?column?\n-- ----------\n--         1\n-- (1 row)\n", "column LIKE pattern\n", "-- only prose\n",
    "SELECT 'it''s';\n-- prose\n", "CREATE INDEX ${X} ON ${T};\n", "\\x on\nSELECT 1;\n", "SELECT 1\n",
    "DO $$ BEGIN RAISE NOTICE 'x;'; END $$;\n-- NOTICE:  x;\n-- DO\n", "- broken\n-- (1 row)\n",
    "listen_addresses = '*'\n", "{\"a\": 1}\n", "SELECT '{{7,3}}';\n",
])
LANGS = st.sampled_from(["bash", "sh", "console", "sql", "psql", "text", "json", "conf", "yaml", "mermaid", "",
                         "diff", "ruby", "output"])
FENCES = st.builds(lambda lang, code: f"```{lang}\n{code}```", LANGS, CODE)
PIECES = st.one_of(HEADINGS, PARAGRAPHS, FENCES, FENCES)
PAGES = st.builds(lambda front, pieces: front + "\n\n".join(pieces) + "\n",
                  st.sampled_from(["", "---\ntitle: T\n---\n\n"]), st.lists(PIECES, min_size=1, max_size=14))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(page=PAGES, lang=st.sampled_from(["ja", "en"]), allow=st.booleans())
def test_every_graph_parse_returns_satisfies_the_schema(page: str, lang: str, allow: bool) -> None:
    try:
        graph = parse_text(page, "page.md", lang, allow_not_executable=allow)
    except RunbookError as exc:
        assert exc.findings, "a page that cannot be read says where and why"
        return
    found = errors(graph.to_dict(), "graph", "page.md")
    assert found == [], "\n".join(f.message for f in found) + "\n---\n" + page


def test_a_block_with_nothing_to_run_is_not_an_empty_action() -> None:
    """PGroonga's English logical-replication page had a block that became an action with no command."""
    for lang, code in (("bash", "# only a comment\n"), ("console", "$\n"), ("bash", "\n"),
                       ("console", "$ \n%\n")):
        page = (f"# T\n\nThis document uses the following environment.\n\n"
                f"  * Primary:\n\n    * IP address: 192.168.0.30\n\n"
                f"## [normal] Step {{#step}}\n\nPrimary:\n\n```{lang}\n{code}```\n\n```bash\necho ok\n```\n")
        graph = parse_text(page, "page.md", "en")
        assert errors(graph.to_dict()) == []
        assert [len(a.commands) for a in graph.actions()] == [1]
        assert [b.role for b in graph.blocks] == ["note", "action"]
