"""Planning: what happens before hosts are touched. The inventory (``inventory.py``), the plan
(``plan.py``, its driver: bindings, substitutions, host environment, settings), the addresses a
sandbox refuses (``addresses.py``), version notes (``versions.py``), server paths (``server_paths.py``)
and the plan's display (``plan_view.py``)."""
