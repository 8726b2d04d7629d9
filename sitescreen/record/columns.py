"""What the result columns of a run hold: the manifest's ``columns`` section, written by every run
(:class:`sitescreen.record.manifest.RunRecord`)."""

#: What the result columns hold (the manifest's ``columns``; written by every run).
COLUMNS = {
    "m_<criterion>": "measurement in the criterion's unit (NaN/empty = no data; inf = beyond the search radius)",
    "s_<criterion>": "suitability 0–1 from the criterion's transform",
    "f_<criterion>": "the feature behind the measurement and its layer (criteria measured against features; empty: none)",
    "parts_<criterion>": "what an overlap is made of: its largest parts (name and agency) with their shares of the footprint (empty: none)",
    "score": "0–100, weighted mean of suitabilities (weights renormalised over evaluated criteria); 0 if excluded; empty if incomplete",
    "verdict": "excluded, unfavorable, review, favorable, incomplete",
}
