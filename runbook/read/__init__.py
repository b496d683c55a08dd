"""Reading a guide: a pipeline of small stages, each a module with one job (docs/architecture.md).

decode -> outline -> frame -> hosts -> shape -> prose -> blocks -> actions -> sessions -> variables;
``pipeline.read`` runs them in order.
"""
