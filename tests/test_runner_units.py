"""Runner pieces that need no host: file edits, comparisons, bindings, inventories, plans."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import SEED_EN, SEED_JA
from helpers import bound_pg_version, installed_pg_versions, lines_of

from runbook.edit_rules import apply_edit
from runbook.model import Expected, Graph, Span
from runbook.psql_output import parse_output
from runner.planning.addresses import unsafe_addresses
from runner.planning.binding import sandbox_binding
from runner.planning.inventory import default_inventory, load_inventory, secret_values
from runner.planning.plan import build_plan
from runner.running.compare import compare_console, compare_output


def _conf() -> str:
    """Debian's postgresql.conf sample of the version a run binds (a few of its lines where none)."""
    versions = installed_pg_versions()
    sample = Path(f"/usr/share/postgresql/{versions[-1]}/postgresql.conf.sample") if versions else None
    if sample is not None and sample.exists():
        return sample.read_text()
    return ("#listen_addresses = 'localhost'\t\t# what IP address(es) to listen on;\n"
            "#port = 5432\n#shared_preload_libraries = ''\t# (change requires restart)\n")


def test_edit_matches_debian_lines_and_keeps_the_rest_byte_identical() -> None:
    conf = _conf()
    r = apply_edit(conf, "#listen_addresses = 'localhost'\n", "listen_addresses = 'localhost,127.0.0.30'\n")
    assert r.status == "applied"
    old, new = conf.split("\n"), r.content.split("\n")
    changed = [i for i, (a, b) in enumerate(zip(old, new, strict=True)) if a != b]
    assert len(changed) == 1 and new[changed[0]] == "listen_addresses = 'localhost,127.0.0.30'"
    assert old[changed[0]].startswith("#listen_addresses = 'localhost'\t")
    again = apply_edit(r.content, "#listen_addresses = 'localhost'\n", "listen_addresses = 'localhost,127.0.0.30'\n")
    assert again.status == "already-applied" and again.content == r.content


def test_edit_shared_preload_libraries_trailing_comment() -> None:
    r = apply_edit(_conf(), "#shared_preload_libraries = ''\n", "shared_preload_libraries = 'x'\n")
    assert r.status == "applied" and "\nshared_preload_libraries = 'x'\n" in r.content


def test_edit_insert_after_repeated_lines() -> None:
    hba = ("# TYPE  DATABASE        USER            ADDRESS                 METHOD\n"
           "local   replication     all                                     peer\n"
           "host    replication     all             127.0.0.1/32            scram-sha-256\n"
           "host    replication     all             ::1/128                 scram-sha-256\n")
    before = "local replication all peer\nhost replication all 127.0.0.1/32 scram-sha-256\n" \
             "host replication all ::1/128 scram-sha-256\n"
    after = before + "host    replication     all             127.0.0.0/24          scram-sha-256\n"
    r = apply_edit(hba, before, after)
    assert r.status == "applied"
    assert r.content == hba + "host    replication     all             127.0.0.0/24          scram-sha-256\n"
    assert apply_edit(r.content, before, after).status == "already-applied"


def test_edit_missing_before_leaves_content() -> None:
    r = apply_edit(_conf(), "#listen_addresses = 'nowhere'\n", "x = 1\n")
    assert r.status == "before-missing" and r.content == _conf()
    assert "#listen_addresses = 'nowhere'" in r.diff and "closest lines" in r.diff


def test_edit_keeps_crlf() -> None:
    r = apply_edit("a = 1\r\n#b = 2\r\nc = 3\r\n", "#b = 2\n", "b = 5\n")
    assert r.content == "a = 1\r\nb = 5\r\nc = 3\r\n"


def _expected(lines: list[str]) -> Expected:
    out = parse_output(lines)
    return Expected(kind=out.kind, span=Span("g.md", 1, 1), lines=lines, columns=out.columns,  # type: ignore[arg-type]
                    rows=out.rows, row_count=out.row_count, tag=out.tag, error=out.error)


def test_compare_volatile_json_timestamps() -> None:
    exp = _expected(["                    command                    ",
                     "-----------------------------------------------",
                     " [[0,1478446349.2241,0.1413860321044922],true]", "(1 row)"])
    act = parse_output(["                    command                    ", "----------------------------------",
                        " [[0,1763769600.1234,0.000123],true]", "(1 row)"])
    cmp = compare_output(exp, act)
    assert cmp.ok and cmp.volatile and "epoch" in cmp.volatile[0]


def test_compare_real_difference_fails() -> None:
    exp = _expected(["title", "-----", "a", "b", "(2 rows)"])
    act = parse_output(["title", "-----", "a", "(1 row)"])
    cmp = compare_output(exp, act)
    assert not cmp.ok and "row count: expected 2, got 1" in cmp.problems


def test_expected_error_passes_only_if_it_happens() -> None:
    exp = _expected(['ERROR:  cannot update table "t1"',
                     "DETAIL:  Column used in the publication WHERE expression is not part of the replica identity."])
    ok = parse_output(['ERROR:  cannot update table "t1"',
                       "DETAIL:  Column used in the publication WHERE expression is not part of the replica identity."])
    assert compare_output(exp, ok).ok
    assert not compare_output(exp, parse_output(["UPDATE 1"])).ok
    other = parse_output(['ERROR:  cannot update table "t2"'])
    assert not compare_output(exp, other).ok


def test_console_progress_counter_is_volatile() -> None:
    actual = "waiting for checkpoint\r    0/22966 kB (0%), 0/1 tablespace\r22975/22975 kB (100%), 1/1 tablespace\n"
    cmp = compare_console(["158949/158949 kB (100%), 1/1 tablespace"], actual)
    assert cmp.ok and "progress" in cmp.volatile[0]
    assert not compare_console(["1/1 tablespace done"], "something else\n").ok


def test_sandbox_binding_of_the_seed(seed_ja: Graph) -> None:
    b = sandbox_binding(seed_ja, "15")
    assert b == {"primary.address": "127.0.0.30", "standby1.address": "127.0.0.31", "standby2.address": "127.0.0.32",
                 "network": "127.0.0.0/24", "pg_major": "15"}


def test_plan_binds_and_substitutes(seed_ja: Graph) -> None:
    version = bound_pg_version()
    plan = build_plan(seed_ja, default_inventory(seed_ja), create_cluster="CREATE-CLUSTER", pg_version=version)
    cmds = {c.text for a in plan.graph.actions() for c in a.commands}
    assert f"sudo -u postgres -H rm -rf /var/lib/postgresql/{version}/main" in cmds
    inserts = [st.sql for a in plan.graph.actions() for st in a.statements if "PostgreSQL 15 and" in st.sql]
    assert inserts  # the data "PostgreSQL 15" is not a version to bind
    install = plan.graph.step("install-postgresql").actions[0]
    assert plan.command_text(install.id, 4, install.commands[4].text)[0] == "CREATE-CLUSTER"
    assert plan.command_text(install.id, 0, install.commands[0].text)[0] is None
    assert unsafe_addresses(plan) == []
    if not Path(f"/usr/share/postgresql/{version}/extension/pgroonga.control").exists():
        assert plan.blocked["install-pgroonga"].reason == f"PGroonga is not installed for PostgreSQL {version}"
        assert list(plan.blocked) == ["install-pgroonga"]


def test_unbound_addresses_are_refused(seed_ja: Graph) -> None:
    inv = default_inventory(seed_ja)
    inv.bindings["primary.address"] = "10.1.2.3"
    plan = build_plan(seed_ja, inv, create_cluster="x", pg_version="15")
    found = unsafe_addresses(plan)
    assert found and all("10.1.2.3" in f.message for f in found)
    assert {f.span.line for f in found} >= set(lines_of(SEED_JA, "$ sudo -u postgres -H pg_basebackup"))


def test_inventory_loads_and_reports_problems(tmp_path: Path, seed_ja: Graph, monkeypatch: pytest.MonkeyPatch) -> None:
    good = tmp_path / "hosts.toml"
    good.write_text('[defaults]\nkind = "ssh"\n[hosts.primary]\naddress = "db1"\nuser = "ops"\n'
                    '[bindings]\npg_major = "17"\n[secrets]\nreplication_password = "MY_PW"\n')
    inv = load_inventory(good, seed_ja)
    assert inv.targets["primary"].address == "db1" and inv.targets["standby2"].kind == "ssh"
    from runbook.errors import UsageError

    with pytest.raises(UsageError, match=r"\$MY_PW"):
        secret_values(seed_ja, inv)
    monkeypatch.setenv("MY_PW", "s3cret")
    assert secret_values(seed_ja, inv) == {"replication_password": "s3cret"}
    bad = tmp_path / "bad.toml"
    bad.write_text('[hosts.nowhere]\nkind = "ftp"\npassword = "x"\n[bindings]\nreplication_password = "x"\n')
    from runner.planning.inventory import InventoryError

    with pytest.raises(InventoryError) as info:
        load_inventory(bad, seed_ja)
    messages = " ".join(f.message for f in info.value.findings)
    assert "kind = 'ftp'" in messages and "has a password" in messages and "no such host" in messages
    assert "is a secret" in messages
    syntax = tmp_path / "syntax.toml"
    syntax.write_text("[hosts\n")
    with pytest.raises(InventoryError) as info2:
        load_inventory(syntax)
    assert info2.value.findings[0].span.line == 1


def test_seed_is_the_published_guide_these_tests_read() -> None:
    """The seed (``seed_ja``, the guide most unit tests read) is PGroonga's published guide in both
    languages: the same ten steps, each overview item linking to its heading, and three hosts at the
    addresses the bindings above replace."""
    anchors = []
    for path in (SEED_JA, SEED_EN):
        text = path.read_text(encoding="utf-8")
        title = text.split("\n")[1].removeprefix("title: ")
        assert text.startswith("---\ntitle: ") and f"\n# {title}\n" in text
        links = re.findall(r"^  \d+\. \[[^]]+\] \[.+\]\(#([a-z0-9-]+)\)$", text, re.M)
        headings = re.findall(r"^## \[[^]]+\] .+ \{#([a-z0-9-]+)\}$", text, re.M)
        assert len(links) == 10 and links == headings
        hosts = text[text.index("\n  * "):text.index("\n## [", text.index("192.168.0.32"))]  # the environment list
        assert re.findall(r"^    \* IP.+?(192\.168\.0\.\d+)$", hosts, re.M) == [f"192.168.0.{n}" for n in (30, 31, 32)]
        anchors.append(links)
    assert anchors[0] == anchors[1] and "pg-basebackup-standbys" in anchors[0]


def _groups(text: str, step: str) -> list[list[str]]:
    from runbook.parse import parse_text
    from runner.planning.variants import variant_groups

    graph = parse_text(text, "g.md")
    (s,) = [x for x in graph.steps if x.id == step]
    return [[a.id for a in g] for g in variant_groups(s.actions, {h.id: h for h in graph.hosts})]


def _local_only(text: str) -> str:
    """The fixture with its standbys' blocks not naming the primary (a block on each host alone)."""
    assert text.count("--host 192.168.0.30 ") == 2
    return text.replace("--host 192.168.0.30 ", "")


def test_per_host_variants_of_one_block_are_grouped() -> None:
    """`Standby1:` / `Standby2:` blocks that differ only by the host's own slot name and reach no other
    host: one group. Checks (SQL) and the multi-host block stay on their own."""
    from conftest import FIXTURES

    for lang in ("en", "ja"):
        text = (FIXTURES / "guides" / f"streaming-replication-plain.{lang}.md").read_text(encoding="utf-8")
        assert _groups(_local_only(text), "pg-basebackup-standbys") == [
            ["pg-basebackup-standbys#1"], ["pg-basebackup-standbys#2", "pg-basebackup-standbys#3"]]
        assert all(len(g) == 1 for g in _groups(text, "start-standbys"))


def test_variants_that_reach_a_shared_host_run_in_the_guides_order() -> None:
    """The fixture's pg_basebackup blocks both copy from the primary (`--host 192.168.0.30`): run at
    once, one's checkpoint removes WAL the other still needs, which a person running them one after
    the other never sees. They are not grouped, and a block for several hosts naming another host
    is not run on them at once either."""
    from conftest import FIXTURES

    from runbook.parse import parse_text
    from runner.planning.variants import names_other_host

    for lang in ("en", "ja"):
        text = (FIXTURES / "guides" / f"streaming-replication-plain.{lang}.md").read_text(encoding="utf-8")
        assert _groups(text, "pg-basebackup-standbys") == [["pg-basebackup-standbys#1"], ["pg-basebackup-standbys#2"],
                                                           ["pg-basebackup-standbys#3"]]
        graph = parse_text(text, "g.md")
        hosts = {h.id: h for h in graph.hosts}
        (step,) = [s for s in graph.steps if s.id == "pg-basebackup-standbys"]
        both = step.actions[0]
        assert both.targets == ["standby1", "standby2"] and not names_other_host(both, both.targets, hosts)
        assert names_other_host(step.actions[1], step.actions[1].targets, hosts)


def test_blocks_naming_another_host_or_differing_are_not_variants() -> None:
    """A standby copying from the other standby (cascading), a block that does something else, and
    two blocks on one host run in the guide's order."""
    from conftest import FIXTURES

    text = (FIXTURES / "guides" / "streaming-replication-plain.en.md").read_text(encoding="utf-8")
    two = "--create-slot --slot standby2 \\\n  --host 192.168.0.30"
    assert two in text
    cascade = text.replace(two, "--create-slot --slot standby2 \\\n  --host 192.168.0.31", 1)
    assert _groups(cascade, "pg-basebackup-standbys") == [["pg-basebackup-standbys#1"], ["pg-basebackup-standbys#2"],
                                                          ["pg-basebackup-standbys#3"]]
    other = text.replace(two, "--create-slot --slot standby2 --checkpoint=fast \\\n  --host 192.168.0.30", 1)
    assert len(_groups(other, "pg-basebackup-standbys")) == 3
    same_host = text.replace("Standby2:\n\nYou should use", "Standby1:\n\nYou should use", 1)
    assert len(_groups(same_host, "pg-basebackup-standbys")) == 3


def test_ssh_transport_removes_its_socket_folder(tmp_path: Path) -> None:
    """The folder of the shared connections' sockets is the transport's own: `stop` removes it (a
    folder given to it stays)."""
    from runner.running.transport import SshTransport

    own = SshTransport({"db": ("127.0.0.1", None, None)})
    assert own.control_dir.is_dir()
    own.stop()
    assert not own.control_dir.exists()
    given = SshTransport({"db": ("127.0.0.1", None, None)}, control_dir=tmp_path)
    given.stop()
    assert tmp_path.is_dir()


def test_plan_says_which_variants_run_at_once() -> None:
    from conftest import FIXTURES

    from runbook.parse import parse_text
    from runner.planning.plan_view import format_plan

    graph = parse_text(_local_only((FIXTURES / "guides" / "streaming-replication-plain.en.md").read_text()), "g.md")
    plan = build_plan(graph, default_inventory(graph), create_cluster="x", pg_version="15")
    fast = format_plan(plan, variants=True).split("\n")
    i = next(k for k, x in enumerate(fast) if x.startswith("### pg-basebackup-standbys#2 console on standby1"))
    assert fast[i + 1] == "#   at once with pg-basebackup-standbys#3 (per-host variants of one block)"
    assert sum("at once with" in x for x in fast) == 2
    assert "at once with" not in format_plan(plan)
