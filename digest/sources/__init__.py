"""Fetching, politely: takes URLs (feeds, the weeknote page, an issue's links) and gives their
bodies, parsed feed items and link verdicts, through a concurrent httpx client capped per host,
behind the address guard, with the answers kept in the state."""
