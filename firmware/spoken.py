"""Amounts of money as the voice module speaks them: clips played back to back (drivers/voice_jq8900.py).

The module holds one clip per word in its ``ZH`` folder: 零..九 ("00".."09"),
十 "10", 百 "11", 千 "12", 万 "13", 点 "14", 元 "15". 1234.50 yuan is read the
Chinese way: 一千二百三十四点五元.
"""

from firmware.compat import const

_TEN = const(10)
_HUNDRED = const(11)
_THOUSAND = const(12)
_TEN_THOUSAND = const(13)
_POINT = const(14)
_YUAN = const(15)
_UNITS = const((0, _TEN, _HUNDRED, _THOUSAND))


def yuan_clips(fen):
    """The clip names (bytes, two characters each) that say ``fen`` (0 <= fen < 10^10) in yuan."""
    clips = bytearray()
    yuan = fen // 100
    if yuan >= 10000:
        _say_below_ten_thousand(clips, yuan // 10000)
        _add(clips, _TEN_THOUSAND)
        yuan %= 10000
        if 0 < yuan < 1000:
            _add(clips, 0)
        if yuan:
            _say_below_ten_thousand(clips, yuan)
    else:
        _say_below_ten_thousand(clips, yuan)
    jiao, cents = fen // 10 % 10, fen % 10
    if jiao or cents:
        _add(clips, _POINT)
        _add(clips, jiao)
        if cents:
            _add(clips, cents)
    _add(clips, _YUAN)
    return bytes(clips)


def _say_below_ten_thousand(clips, number):
    if number == 0:
        _add(clips, 0)
        return
    digits = (number // 1000, number // 100 % 10, number // 10 % 10, number % 10)
    started = False
    zero_pending = False
    for index in range(4):
        digit = digits[index]
        place = 3 - index
        if digit == 0:
            zero_pending = started
            continue
        if zero_pending:
            _add(clips, 0)
            zero_pending = False
        # 10 to 19 alone are read 十, 十一..., not 一十.
        if not (digit == 1 and place == 1 and not started):
            _add(clips, digit)
        if place:
            _add(clips, _UNITS[place])
        started = True


def _add(clips, clip):
    clips.append(48 + clip // 10)
    clips.append(48 + clip % 10)
