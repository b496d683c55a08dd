"""Inventories checked against their JSON Schema: every problem at once, at its real line and column,
unknown keys with the closest known key (issue 21, point 3)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FIXTURES
from helpers import line_of

from runbook.parse import parse_file
from runner.cli import main as cli
from runner.planning.inventory import InventoryError, key_positions, load_inventory

SINGLE = FIXTURES / "guides" / "single-host.ja.md"


def _problems(tmp_path: Path, text: str, graph: bool = True) -> list[str]:
    inv = tmp_path / "hosts.toml"
    inv.write_text(text)
    with pytest.raises(InventoryError) as info:
        load_inventory(inv, parse_file(SINGLE) if graph else None)
    return [f.format().removeprefix(f"{inv}:") for f in info.value.findings]


def _at(text: str, line: str, what: str, after: int = 0) -> str:
    """``LINE:COLUMN`` (1-based) of ``what`` (``after`` characters further) on the line of ``text``
    that holds ``line``."""
    n = line_of(text, line)
    return f"{n}:{text.split(chr(10))[n - 1].index(what) + 1 + after}"


def test_every_problem_at_its_line_and_column_with_the_closest_key(tmp_path: Path) -> None:
    text = ('[defaults]\nkind = "sandbox"\n\n[hosts.primary]\nkind = "shh"\n'
            'adress = "db1"\n  port = "twenty-two"\ncolour = "red"\n')
    found = _problems(tmp_path, text)
    kind, adress = _at(text, 'kind = "shh"', '"shh"'), _at(text, "adress", "adress")
    port, colour = _at(text, "port =", '"twenty-two"'), _at(text, "colour", "colour")
    assert found == [
        f"{kind}: inventory: kind = 'shh': expected one of sandbox, ssh, local (did you mean 'ssh'?)",
        f"{adress}: inventory: unknown key 'adress' in [hosts.primary] (did you mean 'address'?)",
        f"{port}: inventory: hosts.primary.port = 'twenty-two': expected a whole number (port = 22)",
        f"{colour}: inventory: unknown key 'colour' in [hosts.primary] (known: address, kind, password_env, port, "
        "ssh_options, user)",
    ]


def test_unknown_tables_hosts_and_variables_with_their_closest(tmp_path: Path) -> None:
    text = '[host.primary]\nkind = "ssh"\n[hosts.primery]\nkind = "ssh"\n[bindings]\npg_majr = "15"\n'
    found = _problems(tmp_path, text)
    host, primery, majr = _at(text, "[host.", "host"), _at(text, "primery", "hosts"), _at(text, "pg_majr", "pg_majr")
    assert found == [
        f"{host}: inventory: unknown key 'host' in the inventory (did you mean 'hosts'?)",
        f"{primery}: inventory: [hosts.primery]: the guide has no such host (did you mean 'primary'?)",
        f"{majr}: inventory: 'pg_majr': the guide has no such variable (did you mean 'pg_major'?)",
    ]


def test_a_toml_syntax_error_at_its_line_and_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inv = tmp_path / "hosts4.toml"
    text = '[defaults]\nkind = "ssh"\n\n[hosts.primary]\naddress = "db1"\nport = 22 22\n'
    inv.write_text(text)
    assert cli(["run", "--plan", "--inventory", str(inv), str(SINGLE)]) == 4
    err = capsys.readouterr().err
    assert err.startswith(f"{inv}:{_at(text, 'port = 22 22', '22 22', after=3)}: inventory-syntax: not valid TOML: ")
    assert ":1:" not in err


def test_a_good_inventory_still_loads_with_defaults(tmp_path: Path) -> None:
    inv = tmp_path / "hosts.toml"
    inv.write_text('[defaults]\nkind = "ssh"\nuser = "ops"\n[hosts.primary]\naddress = "db1"\nport = 2222\n'
                   'ssh_options = ["-o", "StrictHostKeyChecking=no"]\n[bindings]\npg_major = 15\n')
    got = load_inventory(inv, parse_file(SINGLE))
    t = got.targets["primary"]
    assert (t.kind, t.address, t.user, t.port, t.options["ssh_options"]) == \
        ("ssh", "db1", "ops", 2222, ["-o", "StrictHostKeyChecking=no"])
    assert got.bindings == {"pg_major": "15"}


def test_positions_are_computed_from_the_text() -> None:
    pos = key_positions('[hosts."db one"]\n  address = "x"\n"a.b" = 1\nx.y = 2\n')
    assert pos[("hosts", "db one")] == (1, 2)
    assert pos[("hosts", "db one", "address")] == (2, 3)
    assert pos[("hosts", "db one", "address", "=")] == (2, 13)
    assert pos[("hosts", "db one", "a.b")] == (3, 1)
    assert pos[("hosts", "db one", "x", "y")] == (4, 1)


def test_the_schema_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    assert cli(["schema", "inventory"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert set(schema["properties"]) == {"defaults", "hosts", "bindings", "secrets"}
