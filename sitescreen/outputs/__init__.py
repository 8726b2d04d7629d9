"""Outputs: result files (GeoPackage, GeoParquet, CSV, manifest), the Folium map, the review report, the QGIS style."""
