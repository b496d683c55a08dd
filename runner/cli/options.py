"""Options several commands share."""

from __future__ import annotations

import argparse


def add_site_config(p: argparse.ArgumentParser) -> None:
    """``--site-config FILE``: the Jekyll ``_config.yml`` a page's ``{{ site.* }}`` is rendered from."""
    p.add_argument("--site-config", metavar="FILE", default=None,
                   help="the site's _config.yml for the pages' Liquid {{ site.KEY }} (default: the first "
                        "_config.yml in the page's folder or above it)")
