"""The alarm texts a modem round sends (firmware/shell/modem_task.py), loaded only when some are due.

Each text is composed in Chinese for the site's manager, sent to every number not
yet reached in one stretch of AT work (the data call set aside and resumed), and
each number reached is reported to the cloud as an ``sms_sent`` alarm record, so
the bridge does not text those numbers the same alarm again.
"""

from drivers.modem_at import AtError
from drivers.modem_sms import send_text
from firmware.compat import const
from firmware.shell.clock import now_ms
from firmware.shell.log import alarm, log

_SMOKE_TEXT = const("【充电桩告警】%s%s 烟雾报警，已切断全部充电，请立即到场查看。%s")
_HEAT_TEXT = const("【充电桩告警】%s%s 机柜温度过高（%s），已暂停全部充电。%s")
_TIME_FORMAT = const("%d月%d日%02d:%02d")
_CHINA_OFFSET_S = const(8 * 3600)
_DAY_S = const(86400)
# Days from 0000-03-01 to 1970-01-01, and the proleptic Gregorian calendar's 400-year era, in days.
_EPOCH_SHIFT_DAYS = const(719468)
_ERA_DAYS = const(146097)


def local_time(wall_s):
    """``11月22日03:14``: a Unix time in China's time (UTC+8), for a text."""
    days, seconds = divmod(wall_s + _CHINA_OFFSET_S, _DAY_S)
    shifted = days + _EPOCH_SHIFT_DAYS
    day_of_era = shifted - shifted // _ERA_DAYS * _ERA_DAYS
    year_of_era = (day_of_era - day_of_era // 1460 + day_of_era // 36524 - day_of_era // 146096) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    month_index = (5 * day_of_year + 2) // 153  # 0 is March
    day = day_of_year - (153 * month_index + 2) // 5 + 1
    month = month_index + 3 if month_index < 10 else month_index - 9
    return _TIME_FORMAT % (month, day, seconds // 3600, seconds % 3600 // 60)


def compose(texts, text):
    """The message for a pending ``text`` of ``texts`` (an AlarmTexts)."""
    name, _, detail, wall_s = text[:4]
    when = local_time(wall_s)
    if name == "smoke":
        return _SMOKE_TEXT % (texts.site, texts.pile_id, when)
    return _HEAT_TEXT % (texts.site, texts.pile_id, detail, when)


async def send_due(modem, texts, due):
    """Send each of ``due`` (pending texts of ``texts``) to the numbers it has not reached; one try each."""
    for text in due:
        message = compose(texts, text)
        numbers = text[4]
        sent = []
        for number in list(numbers):
            try:
                parts = await send_text(modem, number, message, (text[3] + text[5]) & 0xFF)
            except AtError as error:
                log("sms", alarm=text[0], number=number, error=repr(error))
                continue
            numbers.remove(number)
            sent.append(number)
            log("sms", alarm=text[0], number=number, parts=parts)
        text[5] += 1
        text[6] = now_ms()
        if sent:
            alarm("sms_sent", text[1], text[0], numbers=sent)
        if not numbers:
            texts.pending.remove(text)
        elif text[5] >= texts.tries:
            texts.pending.remove(text)
            alarm("modem_fault", text[1], "%s not texted to %s" % (text[0], " ".join(numbers)))
