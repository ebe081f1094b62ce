"""civicvoice: customer-satisfaction and feedback for public services."""

__version__ = "0.1.0"
