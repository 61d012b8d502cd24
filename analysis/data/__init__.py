"""Layer 2, data: what the survey says and how it is read.

The codebook and the briefing copy (both in ``data/reference``), reading and
validating an extract, per-authority parameters, the overall well-being score,
and the synthetic demonstration data. Imports only ``core``.
"""
