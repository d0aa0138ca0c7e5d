"""The Python side of gamebridge, the bridge between running games and AI agents."""

__version__ = "0.1.0"
