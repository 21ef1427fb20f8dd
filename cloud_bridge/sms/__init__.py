"""SMS providers for the alarm notifier: one interface (``provider``), a GSM modem, SMPP and an HTTP webhook."""
