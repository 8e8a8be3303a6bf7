"""mmbot agent: everything that trades (strategy, risk, order management, venues)."""

__version__ = "0.1.0"
