"""One module per source kind: ``feed`` (RSS/Atom/JSON Feed) and ``page`` (listing pages)."""
