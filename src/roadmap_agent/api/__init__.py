"""HTTP API: create_app(settings), routes, streaming and the error table."""
