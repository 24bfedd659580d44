"""Choosing what goes in: takes the stored feed items, the weeknote's sections and the editor's
overrides and gives the issue's themes of items: windowed, deduplicated, tidied (with the heads
of linked pages), themed by keywords and a classifier learnt from the editor's filing."""
