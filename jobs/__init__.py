"""Scheduled work: snapshots, audio features, clustering and the local recommender."""
