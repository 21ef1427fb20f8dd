"""The keypad and coin acceptor at the pile: choosing a port, paying, asking, stopping.

Keys (4x4 pad): digits choose a port, ``#`` confirms, ``*`` cancels,
``A`` then port and ``#`` asks a port's state, ``D`` then port and ``#``
stops it, and ``C``, the manager's code (SERVICE_PIN) and ``#`` clear the
latched alarms (smoke, port faults) once the smoke detector is quiet. Coins
may come before or after the port is chosen; money inserted is never dropped:
it waits for a port, and a chosen port with money starts when ``#`` is
pressed or the entry times out. An IC card may also come before
or after the port (firmware/card/swipe.py): a card swiped first is
remembered (``card``) until the entry times out, and the port chosen then
asks for it again, since a card is written only while it is on the reader.
"""

from firmware import prompts
from firmware.compat import const
from firmware.pile import format_duration, format_fen
from firmware.port import KEYPAD
from firmware.tariff import NO_TIER
from firmware.ticks import since_ms

SELECT = const(0)
_QUERY = const(1)
_STOP = const(2)

_SERVICE = const(3)
_DIGITS_MAX = const(2)
_CODE_DIGITS_MAX = const(6)
_KEY_0 = const("0")
_KEY_9 = const("9")
_CONFIRM = const("#")
_CANCEL = const("*")
_ASK = const("A")
_STOP_KEY = const("D")
_SERVICE_KEY = const("C")
_ENTRY_PREFIX = const(("Port ", "Ask port ", "Stop port "))
_CODE_ENTRY = const("Code ")
_CODE_MARK = const("*")
PAID_PROMPTS = (prompts.STARTED, prompts.QUEUED, prompts.ADDED)


class FrontPanel:
    """What the resident is entering, and the coins not yet given to a port."""

    def __init__(self, pile, cfg):
        self.pile = pile
        self.coin_fen = cfg["COIN_FEN"]
        self.free_mode = cfg["FREE_MODE"]
        self.timeout_ms = cfg["ENTRY_TIMEOUT_S"] * 1000
        self.service_pin = cfg["SERVICE_PIN"]
        self.mode = SELECT
        self.digits = 0
        self.digit_count = 0
        self.port = 0
        self.credit_fen = 0
        self.card = None  # UID (hex) of a card swiped before its port was chosen
        self.last_ms = 0

    def entry(self):
        """What is being typed, for the display (empty when nothing is); a code shows as stars."""
        if self.mode == _SERVICE:
            return _CODE_ENTRY + _CODE_MARK * self.digit_count
        if self.digit_count:
            return _ENTRY_PREFIX[self.mode] + str(self.digits) + "_"
        if self.mode == _QUERY:
            return "Ask: port no. #"
        if self.mode == _STOP:
            return "Stop: port no. #"
        return ""

    def on_key(self, now_ms, key):
        """One key press."""
        self.last_ms = now_ms
        if _KEY_0 <= key <= _KEY_9:
            if self.digit_count < (_CODE_DIGITS_MAX if self.mode == _SERVICE else _DIGITS_MAX):
                self.digits = self.digits * 10 + ord(key) - 48
                self.digit_count += 1
        elif key == _CONFIRM:
            self._confirm(now_ms)
        elif key == _CANCEL:
            self._clear()
            self.port = 0
            self.card = None
            self.pile.announce(prompts.CANCELLED, 0, "", now_ms)
        elif key == _ASK:
            self._clear()
            self.mode = _QUERY
        elif key == _STOP_KEY:
            self._clear()
            self.mode = _STOP
        elif key == _SERVICE_KEY:
            self._clear()
            self.mode = _SERVICE

    def on_coins(self, now_ms, coins):
        """``coins`` coins were accepted."""
        self.last_ms = now_ms
        self.credit_fen += coins * self.coin_fen
        if self.port:
            self.pile.announce(prompts.COIN_IN, self.port, self._credit_text(), now_ms)
        else:
            self.pile.announce(prompts.CHOOSE_PORT_FIRST, 0, self._credit_text(), now_ms)

    def credit_back(self, now_ms, fen):
        """Coins of a session that delivered nothing come back as credit for another port."""
        self.credit_fen += fen
        self.pile.announce(prompts.CHOOSE_PORT_FIRST, 0, self._credit_text(), now_ms)

    def tick(self, now_ms):
        """An entry left alone times out; a chosen port with money in starts rather than lose it."""
        if since_ms(now_ms, self.last_ms) < self.timeout_ms:
            return
        if self.port and self.credit_fen:
            self._pay(now_ms)
        elif self.digit_count or self.mode != SELECT or self.port or self.card:
            self._clear()
            self.port = 0
            self.card = None
        self.last_ms = now_ms

    def _clear(self):
        self.mode = SELECT
        self.digits = 0
        self.digit_count = 0

    def _confirm(self, now_ms):
        pile = self.pile
        if not self.digit_count and self.mode != _SERVICE:
            if self.port and self.credit_fen:
                self._pay(now_ms)
            else:
                pile.announce(prompts.CHOOSE_PORT_FIRST if self.credit_fen else prompts.WELCOME, 0, "", now_ms)
            return
        number = self.digits
        mode = self.mode
        self._clear()
        if mode == _SERVICE:
            if self.service_pin and number == self.service_pin:
                pile.clear(now_ms, 0)
            else:
                pile.announce(prompts.WRONG_CODE, 0, "", now_ms)
        elif pile.port(number) is None:
            pile.announce(prompts.INVALID_PORT, number, "", now_ms)
        elif mode == _QUERY:
            pile.announce(prompts.PORT_INFO, number, pile.describe(number, now_ms), now_ms)
        elif mode == _STOP:
            prompt = pile.stop(now_ms, number, KEYPAD)
            if prompt == prompts.PORT_IDLE:
                pile.announce(prompt, number, "", now_ms)
        elif self.free_mode:
            prompt = pile.pay(now_ms, number, "free", 0)
            pile.announce(prompt, number, "", now_ms)
        else:
            self.port = number
            if self.credit_fen:
                self._pay(now_ms)
            else:
                pile.announce(prompts.CARD_AGAIN if self.card else prompts.INSERT_COINS, number, "", now_ms)

    def _pay(self, now_ms):
        number = self.port
        prompt = self.pile.pay(now_ms, number, "coin", self.credit_fen)
        value = ""
        if prompt in PAID_PROMPTS:
            value = self._credit_text()
            self.credit_fen = 0
        self.port = 0
        self.pile.announce(prompt, number, value, now_ms)

    def _credit_text(self):
        tariff = self.pile.tariff
        text = format_fen(self.credit_fen)
        if tariff.mode != "time":
            # In tier and energy modes the time bought depends on the charger: show money only.
            return text
        seconds = self.credit_fen * tariff.minutes_per_price(NO_TIER) * 60 // tariff.price_fen
        return text + " " + format_duration(seconds)
