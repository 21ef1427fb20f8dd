"""``python -m cloud_bridge``: the same as ``cloud-bridge``."""

from cloud_bridge.cli import main

# Guarded: the store process is started by re-importing the main module, which must not run the bridge.
if __name__ == "__main__":
    raise SystemExit(main())
