"""Top layer, pipeline: orchestration.

The national stage (fit once), the build (slice many: one notebook per
authority through Papermill, in the worker itself), rendering, the index and the one
command line (``python -m analysis``). Nothing below imports from here.
"""
