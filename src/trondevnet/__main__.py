"""`python -m trondevnet --port 8090 --block-interval-ms 3000`."""

import sys

from trondevnet.cli import main

sys.exit(main())
