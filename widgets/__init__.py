"""Textual widgets, one per panel. They render what they are given and never fetch or query."""
