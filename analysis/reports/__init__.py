"""Layer 5, reports: whole documents assembled from the present layer.

An authority's briefing, its at-a-glance pages, the young people's version, the
national briefing, and the inputs a notebook reads (from the national stage's
folder, or computed once for a standalone run in JupyterLab).
"""
