"""Read models and small write paths the operations console and the merchant page need.

- :mod:`paver.console.pages`: keyset pagination (opaque cursors) shared by list routes.
- :mod:`paver.console.merchants`: merchant search, tenant-scoped by the caller's handler.
- :mod:`paver.console.progress`: benefits with the progress to each next milestone.
- :mod:`paver.console.overrides`: an operator's override of a selection decision, audited.
- :mod:`paver.console.sheet`: the print-ready PDF sheet of a partner's codes (crop marks).
"""
