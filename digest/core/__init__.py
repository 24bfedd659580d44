"""What every stage stands on: the settings read from feeds.yaml, the data models, the SQLite
state, the error tree, and small helpers for text, URLs, colours and printed output. It imports
no stage."""
