"""``fathom benchmark``: Fathom against the field's deep baselines, in the same runs and splits."""

from .chosen import fathom_config, record_choice
from .suite import PRESETS, Entry, Preset, preset

__all__ = ["PRESETS", "Entry", "Preset", "fathom_config", "preset", "record_choice"]
