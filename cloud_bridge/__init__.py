"""The cloud bridge (CPython): MQTT ingest, commands and the QR payment flow.

Built by the cloud-sync issue; this package marks its place in the layout.
"""
