"""How candidate sites are made (:class:`SiteOptions`: radius, commodity, duplicate merging, grid,
AOI) and what making them counted (:class:`SiteStats`, recorded in the manifest)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sitescreen.errors import ConfigError


RARE_EARTHS = (
    "lanthanum", "cerium", "praseodymium", "neodymium", "neoymium", "promethium", "samarium", "europium",
    "gadolinium", "terbium", "dysprosium", "holmium", "erbium", "thulium", "ytterbium", "lutetium",
    "yttrium", "scandium", "rare earth", "rare earths", "rare-earth", "rare-earths", "ree", "reo",
    "monazite", "xenotime", "bastnaesite", "bastnasite", "euxenite", "allanite", "thorium-ree",
)


COMMODITIES = {"rare-earths": RARE_EARTHS, "any": ()}


@dataclass(frozen=True)
class SiteOptions:
    """How candidate sites are made from the sites input."""

    radius_m: float = 1000.0           # footprint radius around points
    commodity: str | tuple[str, ...] = "rare-earths"
    merge_distance_m: float = 500.0    # records of one deposit: this close ...
    merge_name_similarity: float = 0.6  # ... with names at least this similar (0..1)
    merge_always_m: float = 50.0       # ... or this close whatever their names
    grid_cell_m: float | None = None   # a regular grid over the AOI instead of a sites file
    aoi: Any = None                    # (minx, miny, maxx, maxy) lon/lat, or a path to polygons
    skip_invalid: bool = False
    id_field: str | None = None        # the sites file's field giving the site ids (--id-field)
    name_field: str | None = None      # ... and the site names (--name-field)

    def commodity_terms(self) -> tuple[str, ...]:
        if isinstance(self.commodity, str):
            if self.commodity not in COMMODITIES:
                raise ConfigError(f"commodity {self.commodity!r} is not one of {', '.join(COMMODITIES)} (or a list of words)")
            return COMMODITIES[self.commodity]
        return tuple(t.lower() for t in self.commodity)


@dataclass
class SiteStats:
    path: str = ""
    records_read: int = 0
    records_without_location: int = 0
    records_skipped_invalid: int = 0
    records_not_selected: int = 0      # outside --sites-where / the [sites] where filter
    records_filtered_out: int = 0      # not the commodity
    records_outside_aoi: int = 0
    duplicates_merged: int = 0
    sites: int = 0
    radius_m: float | None = None
    source_crs: str = ""
    repairs: int = 0
    schema: str = ""
    id_field: str | None = None        # the file's field the site ids came from (None: generated in file order)
    name_field: str | None = None      # the file's field the site names came from
    source_fields: tuple | None = None  # the file's attributes carried to the results as src_<field>
    fields_not_carried: tuple | None = None  # the file's attributes with nested values, which no result file can hold
    merges: tuple | None = None              # each merge link (record a, record b, distance, similarity): MergeRecord fields
    sites_sharing_outlines: int | None = None  # polygon sites whose outline another site also has (each keeps its row)
    shared_outlines: int | None = None        # ... and how many outlines they share
    extra: dict = field(default_factory=dict)

    located: int = field(default=0, repr=False)  # records with a location inside --sites-where (not recorded)
    with_location: int = field(default=0, repr=False)  # records with a location, before --sites-where (not recorded)
    where_values: dict = field(default_factory=dict, repr=False)  # a filter field -> {value: records} (for messages)
    id_candidates: tuple = field(default=(), repr=False)  # the columns that may give the ids (sites.fields.id_candidates)

    def info(self) -> dict:
        d = {k: v for k, v in self.__dict__.items()
             if k not in ("extra", "located", "with_location", "where_values", "id_candidates")}
        d.update(self.extra)
        return d
