"""Payment providers: the adapter interface (``provider``) and the sandbox provider (``sandbox``)."""
