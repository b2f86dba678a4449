"""`python -m sigil_verify`: the command-line verifier (see sigil_verify.cli)."""

import sys

from .cli import main

sys.exit(main())
