"""The demo: a synthetic, seeded central-Idaho region for `sitescreen demo` and the tests."""
