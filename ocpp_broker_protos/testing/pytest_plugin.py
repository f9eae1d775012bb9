"""pytest plugin (fixtures added with the reference server)."""
