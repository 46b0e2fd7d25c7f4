"""`python -m feeds` runs the command-line interface."""

from __future__ import annotations

from feeds.cli import main

if __name__ == "__main__":
    main()
