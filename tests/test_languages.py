"""Which lexicon reads a guide, and why; a language without a lexicon refused, never misread; the
usual words for a single host (issue 21, point 5)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FIXTURES

from runbook.errors import GuideError
from runbook.lexicon import choose_language, text_language
from runbook.parse import parse_text
from runner.cli import main as cli

HELLO = FIXTURES / "guides" / "hello.en.md"
SINGLE = FIXTURES / "guides" / "single-host.ja.md"

FRENCH = """# Installer PostgreSQL

Ce guide explique comment installer le serveur PostgreSQL sur une machine et vérifier que la base
est prête pour les utilisateurs de la société.

## Environnement

* Serveur : 192.168.0.30

## [Serveur] Installer le paquet

Installez le paquet avec la commande suivante et vérifiez que le service est actif dans le système :

```console
$ sudo apt install -y postgresql
```
"""


@pytest.mark.parametrize(("name", "text", "lang", "why"), [
    ("g.en.md", "# Titre\n\nLe texte.\n", "en", "file name .en.md"),
    ("g.md", "---\nlang: ja\n---\n# Title\n", "ja", "front matter lang: ja"),
    ("g.md", SINGLE.read_text().replace("---\ntitle", "---\nx: 1\ntitle"), "ja", "its text reads as Japanese"),
    ("g.md", HELLO.read_text().replace("---\ntitle", "---\nx: 1\ntitle"), "en", "its text reads as English"),
])
def test_the_lexicon_and_why(name: str, text: str, lang: str, why: str) -> None:
    assert choose_language(text, name) == (lang, why)
    assert choose_language(text, name, "en") == ("en", "--lang")


def test_a_french_guide_is_refused_with_the_languages(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert text_language(FRENCH) == "fr"
    guide = tmp_path / "install.md"
    guide.write_text(FRENCH)
    for command in (["lint"], ["parse"], ["run", "--plan"]):
        assert cli([*command, str(guide)]) == 4
        err = "".join(capsys.readouterr())  # lint: its findings are its result (stdout)
        assert f"{guide}:1: no-lexicon: no lexicon for French ('fr', its text reads so): runbook reads guides in " \
            "English (en), Japanese (ja)" in err, command
        assert "no-target" not in err  # it was read as English and failed on its hosts


def test_a_file_name_in_another_language_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    guide = tmp_path / "install.fr.md"
    guide.write_text(HELLO.read_text())
    assert cli(["parse", str(guide)]) == 4
    assert "no lexicon for French ('fr', from the file name .fr.md)" in capsys.readouterr().err
    assert cli(["parse", "--lang", "en", str(guide)]) == 0  # --lang reads it anyway


def test_an_english_text_named_ja_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    guide = tmp_path / "x.ja.md"
    guide.write_text(HELLO.read_text())
    assert cli(["parse", str(guide)]) == 4
    err = capsys.readouterr().err
    assert "no-steps" in err
    assert f"{guide}:1: language: read as Japanese (file name .ja.md), but its text reads as English: give --lang en" \
        in err


@pytest.mark.parametrize("word", ["Server", "Database server", "Host", "Machine"])
def test_a_single_host_named_server_is_the_host(word: str) -> None:
    text = HELLO.read_text().replace("  * Primary:", f"  * {word}:").replace(" on primary", "")
    graph = parse_text(text, "g.en.md")
    assert [h.id for h in graph.hosts] == ["server"]
    assert [a.targets for a in graph.actions()] == [["server"]]


@pytest.mark.parametrize("word", ["サーバー", "ホスト", "データベースサーバー"])
def test_a_single_host_named_server_in_japanese_is_the_host(word: str) -> None:
    text = SINGLE.read_text().replace("  * プライマリー：", f"  * {word}：").replace("プライマリーで", "")
    graph = parse_text(text, "g.ja.md")
    assert [h.id for h in graph.hosts] == ["server"]
    assert {tuple(a.targets) for a in graph.actions()} == {("server",)}
    assert graph.hosts[0].address == "192.168.0.50"


def test_an_unknown_single_word_is_still_a_finding() -> None:
    text = HELLO.read_text().replace("  * Primary:", "  * Toaster:").replace(" on primary", "")
    with pytest.raises(GuideError) as info:
        parse_text(text, "g.en.md")
    assert any(f.rule == "environment-unknown-host" for f in info.value.findings)


def test_lint_and_run_say_which_lexicon_read_the_guide(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["lint", "-v", str(SINGLE)]) in (0, 1)
    assert f"runbook: {SINGLE} read as Japanese" in capsys.readouterr().err
    if Path("/usr/lib/postgresql").is_dir():
        assert cli(["run", "--plan", str(HELLO)]) == 0
        assert "; read as English (file name .en.md)\n" in capsys.readouterr().out
