"""Property tests for older, looser guides: random guides made of the loose conventions (labels
without a colon, loosely written environment lists, `%`/`#` prompts, prompt-less console blocks,
settings in prose or lists, lines to append, file names with typos) either read into a graph that
validates against the schema, or fail with findings that name a line of the guide; never a
traceback."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runbook.errors import GuideError
from runbook.parse import parse_text
from runbook.validate import check

HOSTS = {"ja": ["プライマリー", "スタンバイ1", "スタンバイ2", "スタンバイ", "サーバー3"],
         "en": ["Primary", "Standby1", "standby2", "Standbys", "Server3"]}
JOIN = {"ja": ["と", "、", ",", " と "], "en": [" and ", ", ", ",", " & "]}
FIELDS = {"ja": ["IPアドレス", "IP", "OS", "データベース名", "レプリケーションユーザー名", "謎"],
          "en": ["IP address", "IP", "OS", "Database name", "Replication user name", "Mystery"]}
INTRO = {"ja": ["このドキュメントでは次の環境を使います。", "次の環境を使います。", "環境です。"],
         "en": ["This document uses the following environment:", "This guide uses the following environment:",
                "Hosts:"]}
STEP = {"ja": ["## [通常] プライマリーで設定する {{#s{n}}}", "## [通常] 確認する {{#s{n}}}", "## 設定 {{#s{n}}}",
               "## [固有] スタンバイで確認する"],
        "en": ["## [normal] Configure on primary {{#s{n}}}", "## [normal] Check {{#s{n}}}", "## Setup {{#s{n}}}",
               "## [special] Check on standbys"]}
FILES = ["postgresql.conf", "postresql.conf", "postgresql.con", "pg_hba.conf", "pg_hab.conf", "pg.conf",
         "/var/lib/pgsql/16/data/postgresql.conf", "/etc/postgresql/16/main/pg_hba.conf", "x.txt"]
SETTINGS = ["wal_level = logical", "max_wal_senders = 10", "listen_addresses = 'localhost,192.168.0.30'",
            "port=5433", "a.b = 'c'", "wal_level"]
VERBS = {"ja": ["に次の設定を追加します。", "に次の行を追記します。", "を確認します。", "に追加します："],
         "en": [" gets these settings:", " — add the following lines:", " is checked.", " add:"]}
PROMPTS = ["$ ", "% ", "# ", "", "$", "#"]
LINES = ["sudo -H systemctl restart postgresql", "echo a", "Password: (passw0rd)", "output line", "",
         "# TYPE  DATABASE", "psql blog", "sudo dnf install -y postgresql16-server \\", "  --nogpgcheck"]
LANGS = ["", "console", "bash", "conf", "sql", "text"]


@st.composite
def environment(draw: st.DrawFn, lang: str) -> str:
    indent = draw(st.sampled_from(["  ", "    "]))
    colon = draw(st.sampled_from(["", ":", "："]))
    gap = draw(st.sampled_from(["\n", "\n\n"]))
    out = [draw(st.sampled_from(INTRO[lang])), ""]
    for i, host in enumerate(draw(st.lists(st.sampled_from(HOSTS[lang][:3] + HOSTS[lang][4:]), min_size=1,
                                           max_size=3, unique=True))):
        out.append(f"* {host}{colon}")
        for name in draw(st.lists(st.sampled_from(FIELDS[lang]), max_size=3, unique=True)):
            value = f"192.168.0.{30 + i}" if name.startswith("IP") else draw(st.sampled_from(["`blog`", "Ubuntu 24.04",
                                                                                              "AlmaLinux 9", ""]))
            out.append(f"{indent}* {name}{draw(st.sampled_from([': ', '：', ':']))}{value}")
        out.append(gap.rstrip("\n"))
    return "\n".join(out)


@st.composite
def label(draw: st.DrawFn, lang: str) -> str:
    names = draw(st.lists(st.sampled_from(HOSTS[lang]), min_size=1, max_size=3))
    return draw(st.sampled_from(JOIN[lang])).join(names) + draw(st.sampled_from(["", ":", "："]))


@st.composite
def fence(draw: st.DrawFn) -> str:
    lines = draw(st.lists(st.builds(lambda p, t: p + t, st.sampled_from(PROMPTS), st.sampled_from(LINES)),
                          max_size=5))
    return f"```{draw(st.sampled_from(LANGS))}\n" + "\n".join(lines) + "\n```"


@st.composite
def edit_prose(draw: st.DrawFn, lang: str) -> str:
    file = draw(st.sampled_from(FILES))
    text = f"`{file}`{draw(st.sampled_from(VERBS[lang]))}"
    inline = draw(st.lists(st.sampled_from(SETTINGS), max_size=2))
    if inline:
        text += " " + ", ".join(f"`{s}`" for s in inline)
    items = draw(st.lists(st.sampled_from(SETTINGS), max_size=3))
    parts = [text]
    if items:
        parts.append("\n".join(f"  * `{s}`\n\n    {draw(st.sampled_from(['説明です。', 'Why.', '']))}" for s in items))
    return "\n\n".join(parts)


@st.composite
def guide(draw: st.DrawFn) -> tuple[str, str]:
    lang = draw(st.sampled_from(["ja", "en"]))
    parts = ["---\ntitle: t\n---", "# t", draw(environment(lang))]
    for n in range(draw(st.integers(min_value=1, max_value=3))):
        parts.append(draw(st.sampled_from(STEP[lang])).format(n=n))
        for _ in range(draw(st.integers(min_value=0, max_value=5))):
            parts.append(draw(st.one_of(label(lang), fence(), edit_prose(lang),
                                        st.sampled_from(["<!-- runbook: hosts=primary -->", "変更前：", "After:"]))))
    return lang, "\n\n".join(parts) + "\n"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(guide())
def test_random_loose_guides_read_or_fail_with_findings(case: tuple[str, str]) -> None:
    lang, text = case
    lines = text.count("\n") + 1
    try:
        graph = parse_text(text, f"g.{lang}.md", lang)
    except GuideError as exc:
        assert exc.findings, str(exc)
        assert all(1 <= f.span.line <= lines for f in exc.findings)
        return
    check(graph.to_dict())  # raises SchemaError, naming every violation, if the graph is not valid
    assert all(1 <= f.span.line <= lines for f in graph.findings)
