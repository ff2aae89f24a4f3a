"""The local recommender: candidate sources that plug in, and one ranking over all of them."""
