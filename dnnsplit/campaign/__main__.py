"""``python -m dnnsplit.campaign``: the same as ``dnnsplit bench``."""

import sys

from dnnsplit.campaign.cli import main

sys.exit(main())
