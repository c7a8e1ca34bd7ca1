"""shopgym: an offline simulator and training pipeline for e-commerce deep research agents."""

__version__ = "0.1.0"
