"""IC cards: the record a resident's MIFARE Classic card carries, and the value-block form it uses."""
