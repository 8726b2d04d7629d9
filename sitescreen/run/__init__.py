"""The run: run configs, the screening flow, batch runs."""
