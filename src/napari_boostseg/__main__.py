"""``python -m napari_boostseg``: the ``boostseg`` command line."""

import sys

from .cli import main

sys.exit(main())
