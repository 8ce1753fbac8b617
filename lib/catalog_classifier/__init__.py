"""catalog-classifier: Rakuten France product listings into 27 product type codes, on Spark."""

__version__ = "0.1.0"
