"""digest: a weekly themed email digest from a community weeknote and partner feeds."""

__version__ = "0.1.0"
