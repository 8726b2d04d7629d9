"""record: see README "The code"."""
