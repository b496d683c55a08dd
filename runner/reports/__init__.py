"""What a run tells, once the step loop has results: to people while it runs (``progress``) and after
(``summary``, ``site`` summary), to tools (``guide``: JSON and JUnit of a guide's run; ``site``: of a
site's run; ``schemas``), to browsers (``html``, ``site_html``), to GitHub Actions (``annotations``),
and the merge of a site's shard reports (``merge``). ``console`` holds the command line's output
conventions (stdout/stderr, ``-q``/``-v``, colours, width) that all of them print through.

Nothing here runs a guide: reports read the step loop's result classes and nothing else of it.
"""
