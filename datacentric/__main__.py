"""``python -m datacentric``."""

from datacentric.cli import main

main()
