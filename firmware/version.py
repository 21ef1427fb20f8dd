"""The firmware's version, reported in the birth message and by the installer's tools."""

FIRMWARE_VERSION = "0.4.0"
