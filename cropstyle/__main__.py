"""`python -m cropstyle`: the command line (cropstyle.cli)."""

from cropstyle.cli import entry

entry()
