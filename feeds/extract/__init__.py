"""Article extraction: dates, bodies, authors, and Chinese text clean-up."""
