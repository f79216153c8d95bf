"""The revisions of the payments database, oldest first."""
