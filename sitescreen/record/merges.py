"""One merge of duplicate deposit records, as the run record (``sites.merges``) and merges.csv
keep it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class MergeRecord:
    """Two records of one deposit merged into one site (a link of the merge: a site of n records
    has n − 1 or more), and why: ``rule`` ``close`` (within merge_always_m, whatever the names) or
    ``alike`` (within merge_distance_m with names at least merge_name_similarity alike)."""
    site_id: str
    record_a: str
    name_a: str
    record_b: str
    name_b: str
    distance_m: float
    name_similarity: float
    rule: str
