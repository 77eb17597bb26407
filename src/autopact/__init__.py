"""autopact: what happens to the US car market if Washington changes the rules for Chinese automakers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from autopact.version import __version__

if TYPE_CHECKING:
    from autopact.data import load_market, summarize

__all__ = ["__version__", "load_market", "summarize"]


def __getattr__(name: str) -> Any:
    """``load_market`` and ``summarize`` on first use: importing the package (as the CLI does before
    it knows the command) then loads no pandas, so ``autopact --help`` starts at once."""
    if name in ("load_market", "summarize"):
        import autopact.data

        return getattr(autopact.data, name)
    raise AttributeError(f"module 'autopact' has no attribute {name!r}")
