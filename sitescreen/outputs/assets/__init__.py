"""Package data: the map runtime (JS/CSS) inlined into every map.html."""
