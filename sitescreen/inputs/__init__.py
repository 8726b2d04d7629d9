"""Inputs: layer specs and definitions (schemas), reading vector and raster files, CRS choice and checks, number ranges."""
