"""The Liquid stage: ``{{ site.* }}`` from the site's ``_config.yml``, ``{% raw %}``, lines kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import line_of

from runbook.errors import GuideError, UsageError
from runbook.read.liquid import SiteConfig, find_site_config, load_site_config, render, site_for

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus-sample"

PAGE = """\
---
title: LIKE
---

# `LIKE`

See [Recheck]({{ site.postgresql_doc_base_url.ja }}/index-scanning.html) for PostgreSQL {{ site.latest }}.

{% raw %}
```sql
SELECT '{{7,3}}';
```
{% endraw %}

Written for {{ page.title }}; {{ site.nope }} and {{ site.postgresql_doc_base_url.fr }} are unknown.
"""

CONFIG = "latest: 18\npostgresql_doc_base_url:\n  en: https://www.postgresql.org/docs/17\n  ja: https://www.postgresql.jp/document/16/html\n"


def _site(tmp_path: Path) -> Path:
    (tmp_path / "_config.yml").write_text(CONFIG, encoding="utf-8")
    page = tmp_path / "ja" / "reference" / "like.md"
    page.parent.mkdir(parents=True)
    page.write_text(PAGE, encoding="utf-8")
    return page


def test_site_variables_render_and_lines_stay(tmp_path: Path) -> None:
    page = _site(tmp_path)
    out, findings = render(PAGE, str(page), site_for(page))
    lines = out.split("\n")
    assert len(lines) == len(PAGE.split("\n"))
    assert lines[6] == ("See [Recheck](https://www.postgresql.jp/document/16/html/index-scanning.html) "
                        "for PostgreSQL 18.")
    # {% raw %} lines become blank, what they hold is kept as written
    assert lines[8] == "" and lines[12] == ""
    assert lines[10] == "SELECT '{{7,3}}';"
    assert lines[14].startswith("Written for LIKE;  and  are unknown")
    assert [(f.rule, f.span.line) for f in findings] == [("liquid-unknown-variable", 15)] * 2
    assert "site.nope" in findings[0].message and "site.postgresql_doc_base_url.fr" in findings[1].message


def test_config_is_found_walking_up_or_given(tmp_path: Path) -> None:
    page = _site(tmp_path)
    assert find_site_config(page) == tmp_path / "_config.yml"
    other = tmp_path / "other.yml"
    other.write_text("latest: 99\npostgresql_doc_base_url: {ja: X}\n", encoding="utf-8")
    out, _ = render(PAGE, str(page), site_for(page, other))
    assert "PostgreSQL 99." in out and "(X/index-scanning.html)" in out
    with pytest.raises(UsageError):
        site_for(page, tmp_path / "missing.yml")


def test_no_site_config_leaves_the_page_as_written(tmp_path: Path) -> None:
    out, findings = render(PAGE, "page.md", None)
    assert out == PAGE and findings == []


def test_liquid_syntax_error_is_a_finding_with_its_line() -> None:
    text = "# t\n\nsome text\n\n--  {{7,3}}\n{{ site.latest }}\n"
    out, findings = render(text, "page.md", SiteConfig(None, {"latest": 18}))
    assert out == text
    assert [(f.rule, f.severity, f.span.line) for f in findings] == [("liquid-syntax", "error", 5)]


def test_bad_yaml_names_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "_config.yml"
    bad.write_text("title: x\nlist: [1, 2\nother: 3\n", encoding="utf-8")
    with pytest.raises(GuideError) as info:
        load_site_config(bad)
    assert info.value.findings and info.value.findings[0].span.line >= 2


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus-sample is not beside the clone")
def test_corpus_pages_render_without_findings() -> None:
    pages = sorted(CORPUS.glob("**/*.md"))
    pages = [p for p in pages if p.name != "README.md" and "_po" not in p.parts]
    assert len(pages) == 24
    rendered = 0
    using = sum(1 for p in pages if "{{" in (t := p.read_text(encoding="utf-8")) or "{%" in t)
    assert using == 10  # 4 pages with site.*, 1 with {% raw %}, in each language
    for page in pages:
        text = page.read_text(encoding="utf-8")
        out, findings = render(text, str(page), site_for(page))
        assert findings == [], page
        assert out.count("\n") == text.count("\n")
        assert "{{ site." not in out and "{% raw %}" not in out
        rendered += out != text
    assert rendered == using


def test_commands_take_site_config_and_lint_names_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from runner.cli import main

    page = tmp_path / "page.md"
    page.write_text("# Page\n\n## Use\n\n```sql\nSELECT '{{ site.word }}' AS w;\n```\n\n{{ site.nope }}\n",
                    encoding="utf-8")
    config = tmp_path / "elsewhere.yml"
    config.write_text("word: hello\n", encoding="utf-8")
    assert main(["parse", str(page), "--site-config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "SELECT 'hello' AS w;" in out
    assert main(["lint", str(page), "--site-config", str(config)]) == 1
    out = capsys.readouterr().out
    assert f"{page}:{line_of(page, '{{ site.nope }}')}: liquid-unknown-variable:" in out and "site.nope" in out
    # without a configuration (none above tmp_path), the page is read as written
    assert main(["parse", str(page)]) == 0
    assert "{{ site.word }}" in capsys.readouterr().out
    assert main(["drift", str(page), str(page), "--site-config", str(config)]) == 0
    capsys.readouterr()
    assert main(["parse", str(page), "--site-config", str(tmp_path / "missing.yml")]) == 2
