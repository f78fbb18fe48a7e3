"""The server-rendered site for regulators and organization members: overview, lists, review and filing."""
