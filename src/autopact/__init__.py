"""autopact: what happens to the US car market if Washington changes the rules for Chinese automakers."""

from autopact.data import load_market, summarize
from autopact.version import __version__

__all__ = ["__version__", "load_market", "summarize"]
