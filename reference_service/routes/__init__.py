"""HTTP edge: thin handlers that parse, authorize by role, call a service and shape the response."""
