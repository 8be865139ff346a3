"""The scheduler process and the one registry of scheduled jobs."""
