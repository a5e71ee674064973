"""lambda-shim: a fast, debuggable Python runtime for AWS Lambda."""
__version__ = "0.1.0"
