"""One module per external dependency; nothing outside this package imports a driver."""
