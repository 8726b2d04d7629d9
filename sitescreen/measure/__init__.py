"""Measuring: one column per criterion, vectorized over the sites (geometry and raster kernels, the engines)."""
