"""The plumbing every Newsreel service shares: configuration, database sessions, the event
envelope, the transactional outbox, reliable consumers and metrics. Nothing here knows about
accounts, mails or videos."""

import warnings

# nameko 2.14 needs eventlet, which warns on import that it is in maintenance mode: we know,
# and the pin is deliberate (see ARCHITECTURE.md's measured facts).
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
