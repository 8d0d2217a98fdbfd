"""``python -m lotusx``: the ``lotusx`` command."""

import sys

from lotusx.cli import main

sys.exit(main())
