"""Products sold besides flash rental (energy packages, top-ups)."""
