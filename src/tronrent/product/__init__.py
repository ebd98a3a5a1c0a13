"""Products sold by the one order engine, each a strategy (see base.ProductStrategy)."""
