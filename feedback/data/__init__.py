"""Data files shipped with the feedback feature (word lists and model weights of the sentiment scorers)."""
