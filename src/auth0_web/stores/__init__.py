"""Session stores for server-side (stateful) sessions."""
