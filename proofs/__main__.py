"""``python -m proofs [--json] [--run] [--status S] [--markdown] [--write-readme]``: print the ledger."""

import sys

from proofs.ledger import main

sys.exit(main())
