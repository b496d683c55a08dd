"""Stage blocks: each fenced block of a step becomes an action, a file edit's before text or a
note, on the hosts the prose before it names."""

from __future__ import annotations

from runbook import lexicon as lexicons
from runbook.read.blocks import Blocks, blocks
from runbook.read.frame import frame
from runbook.read.hosts import environment
from runbook.read.outline import outline
from runbook.read.problems import Problems
from runbook.read.prose import Cues
from runbook.read.shape import Page, shape

JA = lexicons.load("ja")

ENV = """\
# ガイド

このドキュメントでは次の環境を使います。

- プライマリー：
- スタンバイ1：
- スタンバイ2：

"""


def _blocks(body: str, env: str = ENV) -> tuple[Blocks, Page, Problems]:
    problems = Problems()
    doc = outline(env + body, "t.md", problems)
    front = frame(doc, JA)
    hosts = environment(front.environment, JA, problems)
    page = shape(doc, front, JA, problems)
    return blocks(doc, front, page, Cues(hosts, JA, problems), problems), page, problems


def _rows(found: Blocks) -> list[tuple[str, str, list[str], str]]:
    return [(p.action.id, p.action.kind, p.action.targets, p.action.target_source) for p in found.actions]


def test_targets_from_heading_then_label_then_scope_phrase() -> None:
    body = """\
## [通常] スタンバイで確認 {#s}

```bash
ls
```

プライマリー：

```sql
SELECT 1;
```

スタンバイ2でだけ実行します。

```console
$ id
```
"""
    found, page, problems = _blocks(body)
    assert _rows(found) == [("s#1", "shell", ["standby1", "standby2"], "heading"),
                            ("s#2", "sql", ["primary"], "label"),
                            ("s#3", "console", ["standby2"], "prose")]
    assert page.steps[0].scope == ["standby1", "standby2"]
    assert [a.id for a in page.steps[0].actions] == ["s#1", "s#2", "s#3"]
    assert [p.first_line for p in found.actions] == [12, 18, 24]
    assert problems.fatal == []


def test_a_file_edit_takes_path_before_and_after_blocks() -> None:
    body = """\
## [通常] 設定 {#conf}

プライマリー：

`/etc/postgresql/15/main/postgresql.conf`：

変更前：

```text
#wal_level = replica
```

変更後：

```text
wal_level = logical
```
"""
    found, _, problems = _blocks(body)
    (placed,) = found.actions
    edit = placed.action
    assert (edit.kind, edit.path, edit.before, edit.after) == (
        "file_edit", "/etc/postgresql/15/main/postgresql.conf", "#wal_level = replica\n", "wal_level = logical\n")
    assert (edit.targets, edit.path_span.line if edit.path_span else None) == (["primary"], 13)
    assert [(b.line, b.role, b.action) for b in found.inventory] == [(17, "before", "conf#1"), (23, "action", "conf#1")]
    assert problems.fatal == []


def test_a_path_then_a_config_block_writes_the_file() -> None:
    body = "## [通常] 書く {#w}\n\nプライマリー：\n\n`/etc/x.conf`：\n\n```ini\nk = v\n```\n"
    found, _, _ = _blocks(body)
    (placed,) = found.actions
    assert (placed.action.kind, placed.action.path, placed.action.after) == ("file_write", "/etc/x.conf", "k = v\n")


def test_before_without_after_and_marker_without_block_are_fatal() -> None:
    body = """\
## [通常] 壊れた編集 {#e}

プライマリー：

`/etc/x.conf`：

変更前：

```text
a
```

## [通常] 次 {#n}

プライマリー：

`/etc/y.conf`：

変更前：
"""
    _, _, problems = _blocks(body)
    assert [(f.rule, f.span.line) for f in problems.fatal] == [("edit-without-after", 15),
                                                                ("edit-marker-without-block", 27)]


def test_block_with_no_host_is_fatal_unless_there_is_one_host() -> None:
    _, _, problems = _blocks("## [通常] どこ {#x}\n\n```bash\nls\n```\n")
    assert [(f.rule, f.span.line) for f in problems.fatal] == [("no-target", 11)]
    one = "# G\n\nこのドキュメントでは次の環境を使います。\n\n- プライマリー：\n\n"
    found, _, problems = _blocks("## [通常] ひとつ {#x}\n\n```bash\nls\n```\n", one)
    assert _rows(found) == [("x#1", "shell", ["primary"], "single-host")]
    assert problems.fatal == []


def test_notes_inside_and_outside_steps() -> None:
    body = """\
```bash
echo outside
```

## [通常] 図 {#d}

プライマリー：

```mermaid
graph LR
```

```ruby
puts 1
```
"""
    found, _, problems = _blocks(body)
    assert found.actions == []
    assert [(n.id, n.lang) for n in found.notes] == [("note-1", "bash"), ("note-2", "mermaid"), ("note-3", "ruby")]
    assert [b.role for b in found.inventory] == ["note", "note", "note"]
    assert [(f.rule, f.span.line) for f in problems.defects] == [("block-outside-step", 9), ("block-not-run", 21)]
