"""Data structures that reproduce Redis's own byte layouts (HyperLogLog, geohash, streams)."""
