"""``python -m analysis <command>``: the project's one command line (analysis.pipeline.cli)."""

import sys

from analysis.pipeline.cli import main

sys.exit(main())
