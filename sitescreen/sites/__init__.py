"""Sites: candidate footprints from deposit records, polygons or a grid; filters, AOI, duplicate merging, ids."""
