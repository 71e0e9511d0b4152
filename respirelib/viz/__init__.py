"""Plot functions: each returns a matplotlib ``Figure`` and never shows or saves it."""
