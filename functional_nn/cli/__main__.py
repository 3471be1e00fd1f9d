"""``python -m functional_nn.cli`` runs the ``functional-nn`` command line."""

import sys

from functional_nn.cli import main

sys.exit(main())
