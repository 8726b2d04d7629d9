"""sitescreen: screen candidate rare-earth mining sites against environmental safeguards."""

__version__ = "0.1.0"

from sitescreen.children import early_die_with_parent as _early_die_with_parent

_early_die_with_parent()  # a pool child killed with its parent even while it is still starting
