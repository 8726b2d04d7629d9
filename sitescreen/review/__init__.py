"""Review: verify a finished run, explain one site."""
