"""The plumbing every Newsreel service shares: configuration, database sessions, the event
envelope, the transactional outbox, reliable consumers and metrics. Nothing here knows about
accounts, mails or videos."""
