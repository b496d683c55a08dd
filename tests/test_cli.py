"""The command line's package (runner/cli/): one module per sub-command, imported only when given."""

from __future__ import annotations

import argparse
import ast
import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

from runner.cli import COMMANDS, MODULES, main

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_is_a_module_with_configure_and_main(name: str) -> None:
    module = importlib.import_module(f"runner.cli.{MODULES.get(name, name)}")
    parser = argparse.ArgumentParser()
    module.configure(parser)
    assert parser._actions[1:], f"{name}: configure added no option"
    assert callable(module.main)


def test_a_command_imports_only_its_own_module() -> None:
    code = ("import sys\nfrom runner.cli import main\n"
            "try:\n    main(['parse', '--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith('runner')))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    loaded = ast.literal_eval(proc.stdout.strip().splitlines()[-1])
    assert loaded == ["runner", "runner.cli", "runner.cli.options", "runner.cli.parse", "runner.outputs"]


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: runbook" in capsys.readouterr().err
    assert main(["nosuchcommand"]) == 2
    assert "invalid choice: 'nosuchcommand'" in capsys.readouterr().err


def test_the_reading_package_never_imports_the_runner() -> None:
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "runbook").rglob("*.py")
                 if re.search(r"^\s*(from|import)\s+runner\b", p.read_text(encoding="utf-8"), re.M)]
    assert offenders == []


def test_version_is_the_packages() -> None:
    import tomllib

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    proc = subprocess.run([sys.executable, "-m", "runner.cli", "--version"], capture_output=True, text=True,
                          check=False, cwd=ROOT)
    assert (proc.returncode, proc.stdout) == (0, f"runbook {declared}\n")


def test_top_level_help_imports_no_command_module() -> None:
    code = ("import sys\nfrom runner.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith('runner.cli.')))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    lines = proc.stdout.strip().splitlines()
    assert ast.literal_eval(lines[-1]) == []
    assert all(f"    {name}" in proc.stdout for name in COMMANDS)  # every command listed with its help
