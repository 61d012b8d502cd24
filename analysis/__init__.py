"""Reporting system of the children's well-being survey programme.

Importing ``nbformat`` (through Papermill and nbconvert) pulls in jsonschema,
which builds an RFC 3987 grammar with ``rfc3987_syntax`` at import time: 1.5 s
on the 2-core reference machine, paid by the build and by every worker. We
never validate IRIs, and jsonschema skips that optional checker when the
module cannot be imported, so it is blocked here, before anything imports it.
"""

import sys

sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
