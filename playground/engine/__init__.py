"""The decode loop, its records, caches and draft trees."""
