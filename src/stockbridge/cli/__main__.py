"""``python -m stockbridge.cli``: the same as the ``stockbridge`` command."""

from stockbridge.cli.app import main

main()
