"""Sending: takes a rendered issue and the subscriber list and gives one delivered copy per
reader, in batches through SendGrid or the outbox, recorded in the send ledger so that nothing
goes twice; also the subscribers, suppressions and unsubscribe tokens."""
