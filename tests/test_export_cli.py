"""``runbook export`` on the command line, and its drawings: files written into a folder, values
bound from an inventory, usage errors, all-or-nothing writes; Mermaid and Graphviz diagrams."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from export_support import GUIDE_IDS, PLAIN, PO, SECRET, SEED, _graph

from runbook.export.diagram import render_diagram
from runbook.parse import parse_text
from runner.cli import export as export_cli

# -- drawings -------------------------------------------------------------------------------------


@pytest.mark.parametrize("guide", [SEED["ja"], PLAIN["en"]], ids=GUIDE_IDS)
def test_mermaid_draws_one_lane_per_host_with_every_step(guide: Path) -> None:
    graph = _graph(guide)
    text = render_diagram(graph, "mermaid")
    lines = text.splitlines()
    assert lines[0] == "```mermaid" and lines[1] == "flowchart TB" and lines[-1] == "```"
    assert [ln.split("[")[0].split()[1] for ln in lines if ln.strip().startswith("subgraph ")] == [
        "primary_lane", "standby1_lane", "standby2_lane"]
    assert lines.count("    end") == 3
    nodes = re.findall(r"^\s+(n_\w+)\[", text, re.MULTILINE)
    edges = re.findall(r"^\s+(n_\w+) (-->|-\.->) (n_\w+)$", text, re.MULTILINE)
    assert edges and all(a in nodes and b in nodes for a, _, b in edges)
    assert re.search(r"^    n_primary__install_postgresql --> n_primary__install_pg|^    n_primary__install_postgresql "
                     r"--> n_primary__configure_replication_primary$", text, re.MULTILINE)
    assert any(a.startswith("n_primary__") and b.startswith("n_standby") and kind == "-.->" for a, kind, b in edges)
    assert "[normal]" in text or "[通常]" in text
    # It parses as a guide's mermaid block.
    assert parse_text(f"# t\n\n{text}\n## [normal] x {{#x}}\n\nThis is a normal step.\n", "t.md", "en").notes[0].lang \
        == "mermaid"


@pytest.mark.parametrize("guide", [SEED["ja"], PLAIN["en"]], ids=GUIDE_IDS)
def test_dot_is_valid_graphviz(guide: Path) -> None:
    text = render_diagram(_graph(guide), "dot")
    assert text.startswith("digraph ") and text.rstrip().endswith("}")
    assert text.count("subgraph \"cluster_") == 3
    if shutil.which("dot") is None:
        pytest.skip("graphviz is not installed: structure checked only")
    result = subprocess.run(["dot", "-Tsvg"], input=text, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "<svg" in result.stdout


# -- the command line -----------------------------------------------------------------------------


def _cli(*argv: str) -> int:
    from runner.cli import main as run

    return run(list(argv))


def test_cli_export_writes_files_into_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli("export", str(PLAIN["ja"]), "--to", "sh", "-o", str(tmp_path / "sh")) == 0
    assert sorted(p.name for p in (tmp_path / "sh").iterdir()) == ["primary.sh", "run-order.tsv", "standby1.sh",
                                                                  "standby2.sh"]
    assert os.access(tmp_path / "sh" / "primary.sh", os.X_OK)
    assert _cli("export", str(SEED["en"]), "--to", "ansible", "-o", str(tmp_path / "ansible")) == 0
    assert (tmp_path / "ansible" / "playbook.yml").read_text().count("- name: \"Phase ") >= 5
    assert _cli("export", str(SEED["en"]), "--to", "markdown", "--lang", "ja", "--po", str(PO)) == 0
    out = capsys.readouterr().out
    assert "## [通常] プライマリーとスタンバイでPostgreSQLをインストールする {#install-postgresql}" in out
    assert _cli("graph", str(SEED["ja"]), "--format", "dot") == 0
    assert capsys.readouterr().out.startswith("digraph ")


def test_cli_export_with_an_inventory_binds_values(tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.toml"
    inventory.write_text('[bindings]\npg_major = "15"\n"primary.address" = "127.0.0.30"\n'
                         '[secrets]\nreplication_password = "MY_PW"\n')
    assert _cli("export", str(PLAIN["en"]), "--to", "sh", "--inventory", str(inventory), "-o", str(tmp_path)) == 0
    standby1 = (tmp_path / "standby1.sh").read_text()
    assert "--host 127.0.0.30 --pgdata /var/lib/postgresql/15/main" in standby1
    assert '"${MY_PW}"' in standby1 and SECRET not in standby1


def test_cli_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli("export", str(PLAIN["ja"]), "--to", "sh") == 2  # several files, no -o
    assert "give -o DIR" in capsys.readouterr().err
    assert _cli("export", str(PLAIN["ja"]), "--to", "markdown") == 2
    assert _cli("export", str(PLAIN["ja"]), "--to", "markdown", "--lang", "ja") == 2  # already Japanese
    bad_po = tmp_path / "bad.po"
    bad_po.write_text('msgid "x\n')
    assert _cli("export", str(PLAIN["ja"]), "--to", "markdown", "--lang", "en", "--po", str(bad_po)) == 2
    assert "bad.po:1: not a PO file" in capsys.readouterr().err


def test_write_files_is_all_or_nothing(tmp_path: Path) -> None:
    (tmp_path / "a.sh").write_text("old\n")
    with pytest.raises(OSError):
        export_cli.write_files(tmp_path, {"a.sh": "new\n", "missing-dir/b.sh": "x\n"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.sh"]
    assert (tmp_path / "a.sh").read_text() == "old\n"


def test_configure_functions_accept_the_documented_options() -> None:
    parser = argparse.ArgumentParser()
    export_cli.configure(parser)
    args = parser.parse_args(["g.md", "--to", "markdown", "--lang", "en", "--po", "x.po", "-o", "out",
                              "--inventory", "i.toml"])
    assert (args.to, args.lang, args.po, args.output, args.inventory) == ("markdown", "en", "x.po", "out", "i.toml")
