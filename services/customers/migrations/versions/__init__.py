"""The revisions of the customers database, oldest first."""
