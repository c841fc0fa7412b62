"""Framework glue. Only this package imports a web framework (and only lazily)."""
