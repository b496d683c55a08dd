"""Running: the step loop (``steps.py``: :class:`Runner`, :class:`RunnerOptions`), one module per action
kind (``shell.py``, ``sql.py``, ``files.py``), the hosts' shells (``shells.py``, ``session.py``, output
``capture.py``), the transport (``transport.py``), the observer (``observe.py``), the comparison
(``compare.py``), the results (``results.py``) and interruption (``signals.py``)."""
