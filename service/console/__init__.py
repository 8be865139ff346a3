"""The commission's console: browser pages served at /console/ from the built assets."""
