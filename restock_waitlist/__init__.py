"""Turn a sold-out page into a waitlist and win the sale back when stock returns."""

__version__ = "0.1.0"
