"""mmbot: the `mmbot` console script and its subcommands."""

from agent import __version__

__all__ = ["__version__"]
