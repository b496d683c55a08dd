"""The reader's driver: a guide's text -> its step graph, one stage after another."""

from __future__ import annotations

import hashlib

from ..errors import GuideError
from ..kinds import Shape
from ..lexicon import Lexicon
from ..model import Graph, Source
from .actions import actions
from .blocks import blocks
from .edits import fill_paths
from .examples import example_groups
from .frame import frame
from .hosts import environment, implicit_host
from .liquid import SiteConfig
from .liquid import render as render_liquid
from .outline import outline
from .problems import Problems
from .prose import Cues, page_prose
from .sessions import sessions
from .shape import no_steps, shape
from .variables import bind_answers, code_variables
from .versions import version_notes


def read(text: str, file: str, lex: Lexicon, site: SiteConfig | None = None,
         allow_not_executable: bool = False) -> Graph:
    """Read ``text`` (already decoded) with ``lex``; every fatal problem found is raised at once.

    ``site``: the page's Jekyll configuration, for its Liquid.  A page with nothing to run is an
    error (``no-steps``) unless ``allow_not_executable`` (a site's pages): then its graph has no
    steps and the shape ``not-executable``.
    """
    problems = Problems()
    source_text = text
    text, liquid_findings = render_liquid(text, file, site)
    problems.defects.extend(liquid_findings)
    doc = outline(text, file, problems)
    front = frame(doc, lex)
    env = environment(front.environment, lex, problems)
    page = shape(doc, front, lex, problems)
    if page.kind == Shape.NOT_EXECUTABLE and not allow_not_executable:
        no_steps(doc, lex, problems)
    if page.kind in (Shape.EXAMPLES, Shape.UNTAGGED_GUIDE) and not env.hosts:
        env.hosts.append(implicit_host(file))
    placed = blocks(doc, front, page, Cues(env, lex, problems), problems)
    acts = actions(placed.actions, file, problems)
    psql = sessions(acts, env.variables)
    variables = env.variables + code_variables(acts, env.hosts, problems)
    fill_paths(acts, variables, problems)
    bind_answers(acts, variables)
    groups = example_groups(acts, file) if page.kind == Shape.EXAMPLES else []
    title = site.data.get("title") if site is not None else None
    version_notes(doc, acts, lex, title if isinstance(title, str) else None, problems)
    if problems.fatal:
        causes = [f for f in problems.defects if f.rule == "environment-unknown-host"]  # why no host is known
        raise GuideError(f"{file}: {len(problems.fatal)} problem(s) stop this guide from being read",
                         sorted(problems.fatal + causes, key=lambda f: f.span.line))
    digest = hashlib.sha256(source_text.encode("utf-8")).hexdigest()
    return Graph(
        source=Source(file, lex.language, doc.title, digest, doc.lines),
        hosts=env.hosts,
        groups=env.groups,
        variables=variables,
        steps=page.steps,
        sessions=psql,
        notes=placed.notes,
        blocks=placed.inventory,
        prose=page_prose(doc, front, page),
        findings=sorted(problems.defects, key=lambda f: f.span.line),
        shape=page.kind,
        example_groups=groups,
    )
