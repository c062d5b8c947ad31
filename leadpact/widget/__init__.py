"""The amoCRM widget: its sources (`src/`), the archive build, and the backend the lead card panel calls."""
