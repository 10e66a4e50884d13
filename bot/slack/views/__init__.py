"""Block Kit builders: pure functions that return plain data, tested as data."""
