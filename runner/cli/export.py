"""``runbook export``: write a guide as shell scripts, an Ansible playbook or Markdown.

The exporters (``runbook/export/``) are pure functions returning ``{file name: text}``; this module
reads the guide (and an inventory, a PO catalog), and writes the files atomically: every file to a
temporary name first, then all renamed, so an error leaves nothing half-written (docs/export.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from runbook.errors import EXIT_OK, EnvironmentLimit, UsageError
from runbook.export import FORMATS, export
from runbook.load import load_graph
from runbook.model import Graph
from runner.reports.console import progress

from ..outputs import write_files
from .options import add_lang, add_mkdir, add_site_config


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("guide", help="the guide (Markdown, or a step graph as JSON for sh/ansible); markdown: "
                   "or a site's language folder (SITE/ja) with --po-dir, to translate the whole site")
    p.add_argument("--to", required=True, choices=FORMATS, help="sh: a bash script per host; ansible: a playbook "
                   "and an inventory; markdown: the guide in the other language")
    p.add_argument("-o", "--output", metavar="DIR", help="folder to write into (default: standard output, when "
                   "the export is a single file)")
    p.add_argument("--inventory", metavar="FILE", help="inventory (TOML): bindings of the guide's values, "
                   "secrets' environment variables, hosts' addresses")
    p.add_argument("--into", choices=["en", "ja"], metavar="LANG", help="markdown: the language to write (en, ja)")
    add_site_config(p)
    p.add_argument("--po", metavar="FILE", help="markdown: gettext PO catalog (msgid English, msgstr Japanese)")
    p.add_argument("--po-dir", metavar="DIR", help="markdown, a site: the site's catalogs for the source "
                   "folder (SITE/_po/ja: REL.po for each page REL.md)")
    add_lang(p, "--lang", "--guide-lang", what="the guide")
    add_mkdir(p)
    p.add_argument("--sandbox", action="store_true", help="sh/ansible: bind and substitute as `runbook run` does "
                   "on the embedded sandbox (addresses 127.0.0.x, the installed PostgreSQL, pg_createcluster for "
                   "the install step), for running the export on sandbox hosts")


def _inventory_options(path: str | None, graph: Graph) -> dict[str, object]:
    if path is None:
        return {}
    from runner.planning.inventory import load_inventory

    inv = load_inventory(path, graph)
    options: dict[str, object] = {"bindings": dict(inv.bindings), "secret_env": dict(inv.secrets)}
    addresses = {h: t.address for h, t in inv.targets.items() if t.address}
    if addresses:
        options["addresses"] = addresses
    return options


def sandbox_graph(graph: Graph, addresses: dict[str, str] | None = None) -> Graph:
    """``graph`` bound and substituted as a sandbox run would do it (``addresses`` override the hosts')."""
    from runner.planning.binding import sandbox_binding
    from runner.planning.environment import installed_pg_versions
    from runner.planning.inventory import default_inventory
    from runner.planning.plan import build_plan, substituted_graph
    from runner.sandbox import Sandbox, SandboxHost

    versions = installed_pg_versions()
    if not versions:
        raise EnvironmentLimit("--sandbox: PostgreSQL is not installed on this machine (run scripts/setup)")
    inventory = default_inventory(graph)
    inventory.bindings.update({f"{h}.address": a for h, a in (addresses or {}).items()})
    binding = {**sandbox_binding(graph, versions[-1]), **inventory.bindings}
    box = Sandbox("export", [SandboxHost(h.id, binding[f"{h.id}.address"]) for h in graph.hosts])
    plan = build_plan(graph, inventory, create_cluster=box.create_cluster_command(versions[-1]),
                      pg_version=versions[-1])
    return substituted_graph(plan)


def _languages(args: argparse.Namespace) -> None:
    """``--lang`` is the guide's language, as in every command; ``--into`` the language to write.  An
    older command line's ``--to markdown --lang LANG`` (no ``--into``) still means the language to
    write, with a note.  Afterwards ``args.guide_lang`` is the guide's, ``args.lang`` the output's."""
    if args.to == "markdown" and args.into is None and args.lang is not None:
        progress(f"runbook export: --lang {args.lang} read as the language to write (--into {args.lang}), as "
                 "before; write --into: --lang is the language a guide is read in, as in every other command")
        args.into, args.lang = args.lang, None
    args.guide_lang, args.lang = args.lang, args.into


def main(args: argparse.Namespace) -> int:
    _languages(args)
    path = Path(args.guide)
    if args.to == "markdown":
        from .export_markdown import markdown_files, site_main

        if path.is_dir():
            return site_main(args)
        files = markdown_files(args)
    else:
        graph = load_graph(path, args.guide_lang, site_config=args.site_config)
        if args.sandbox:
            files = export(sandbox_graph(graph), args.to)
        else:
            files = export(graph, args.to, **_inventory_options(args.inventory, graph))
    if args.output:
        write_files(Path(args.output), files, mkdir=args.mkdir)
        for name in files:
            progress(f"wrote {Path(args.output) / name}")
    elif len(files) == 1:
        sys.stdout.write(next(iter(files.values())))
    else:
        raise UsageError(f"export --to {args.to} writes {len(files)} files ({', '.join(files)}): give -o DIR")
    return EXIT_OK
