"""The revisions of the sessions database, oldest first."""
