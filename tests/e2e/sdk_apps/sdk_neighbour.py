"""A module next to async_app.py: the app's directory is on sys.path."""

GREETING = "hello from a neighbour module"
