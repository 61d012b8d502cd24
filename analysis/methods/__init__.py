"""Layer 3, methods: numbers in, numbers out.

Statistics, disclosure control, indicators, fair comparisons, funnels, driver
models, focus areas, comparator groups, redaction and safeguarding of comments,
and the national results every briefing slices. No English for readers and no
charts are made here. Imports ``core`` and ``data``.
"""
