"""A documentation site's run (docs/site.md), by stage: ``pages`` finds and reads the pages (settling
at once those not to run), ``run`` drives the run (``run_site``), ``server`` is the shared example
server (its host and cluster, template databases; ``databases`` creates the pages' databases ahead
and on demand), ``examples`` runs one example or how-to page on it (with ``shells``, the pages'
shells kept from page to page; ``groups``, a page's example groups at once; ``volatility``, the
second run; ``howto``, what a how-to page made, dropped after it), guides run on their own sandbox
through the one entry point of a guide's run. ``model`` holds the results; ``shard`` a site's
stable shards for a CI matrix. The reports of a site's run are ``runner/reports/site.py``.
"""
