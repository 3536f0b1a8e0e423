"""Model files: scan folders, detect base models, hashes, previews, training metadata."""
