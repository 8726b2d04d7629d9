"""Rules: the scoring profile (criteria, selections, transforms, exclusions, weights) and scoring into verdicts and reasons."""
