"""``python -m tronrent``: the ``tronrent`` command where its script is not on the PATH."""

from tronrent.cli import main

main()
