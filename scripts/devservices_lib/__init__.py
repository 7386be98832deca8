"""The parts of scripts/devservices.py (local PostgreSQL, Redis and S3 without Docker), one module each; import
them through ``devservices``, which re-exports what callers use. Standard library only."""
