"""Daily compliance digests: computed per day, stored as immutable revisions."""
