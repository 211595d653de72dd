"""What can go wrong when loading a dataset, as exception types a caller can catch.

Every message names the dataset, the file or folder and the fix, in library terms ("the data
root"); a command-line tool catches :class:`DatasetError` and prints it in its own wording.
"""

from __future__ import annotations


class DatasetError(Exception):
    """Base class: a dataset could not be found, read or split."""


class UnknownDatasetError(DatasetError, ValueError):
    """The name is not in the registry."""


class DatasetNotFoundError(DatasetError, FileNotFoundError):
    """A dataset's raw files are not under the data root and could not be downloaded."""


class CorruptDatasetError(DatasetError):
    """A raw or processed file exists but cannot be parsed (truncated, not the expected format)."""


class SplitError(DatasetError, ValueError):
    """The requested split does not exist for this dataset."""


class InvalidGraphError(DatasetError, ValueError):
    """A graph Fathom cannot train on (the message names the offending field)."""
