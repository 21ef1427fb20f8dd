"""The cloud bridge (CPython): stores what the piles send, each message exactly once.

- ``ingest.Bridge``: the MQTT ingest (``Bridge(host, port, user, password, db_url).start()`` / ``.stop()``,
  ``.orders(pile)``); ``cli``: the ``cloud-bridge`` command; ``bench``: ingest throughput against a bare
  paho subscriber; ``mosquitto``: a private broker for tests and the benchmark.
- ``writer``: the batched writer thread; ``worker``: the store process it commits through; ``schema``:
  CBOR payloads to typed records (docs/cloud-protocol.md); ``store``: batches into rows, deduplicated;
  ``sequence``: duplicate and gap detection per boot; ``db``: SQLite or PostgreSQL, and the tables;
  ``queries``: reading them back.
- ``channel.CommandChannel``: signed commands to piles and their outcomes, on the bridge's client
  (docs/bridge-commands.md); ``signing``: command bytes and MAC; ``commands``: the command ledger;
  ``config_shadow``: desired and applied config versions; ``pile_keys``: the piles' keys;
  ``cli_commands``: their ``cloud-bridge`` commands.
"""
