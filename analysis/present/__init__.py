"""Layer 4, present: turning numbers into words, tables and charts.

The one owner of phrasing (``text``), of Markdown building blocks
(``markdown``), of readable tables (``tables``) and of charts and their palette
(``charts``). Imports ``core``, ``data`` and ``methods``.
"""
