"""Starts the pile on a board: builds the core, then runs the shell's tasks."""

import asyncio
import json

from firmware import config
from firmware.frontpanel import FrontPanel
from firmware.pile import Pile
from firmware.shell import tasks
from firmware.shell.clock import now_ms
from firmware.shell.controller import Controller
from firmware.shell.log import log, note


def load_config(path):
    """The site configuration from a JSON file; defaults (and a logged reason) if it is missing or wrong."""
    try:
        with open(path) as handle:
            overrides = json.load(handle)
    except OSError:
        note("no configuration at %s: field defaults" % path)
        return config.defaults()
    except ValueError as error:
        note("config rejected: %s is not valid JSON (%s)" % (path, error))
        return config.defaults()
    return config.load(overrides, note)


async def run(board, cfg):
    """Run the pile until a task fails; relays are off before and after."""
    board.relays.all_off()
    try:
        await board.start()
    except OSError as error:
        log("alarm", alarm="ui_fault", error=repr(error))
    pile = Pile(cfg, now_ms())
    panel = FrontPanel(pile, cfg)
    controller = Controller(pile, panel, board.relays, [])
    log("boot", ports=len(pile.ports), meter=cfg["METER_PROFILE"], tariff=cfg["TARIFF_MODE"])
    health = tasks.Health()
    try:
        await asyncio.gather(
            tasks.meter_loop(board.meter, controller, cfg["METER_SCAN_MS"], health),
            tasks.health_loop(board.meter, health),
            tasks.status_loop(pile, cfg["STATUS_LOG_S"] * 1000),
            tasks.tick_loop(controller),
            tasks.input_loop(board.keypad, board.coin, controller),
            tasks.ui_loop(board.lcd, board.voice, controller, cfg["NOTICE_S"] * 1000, health),
        )
    finally:
        board.relays.all_off()
