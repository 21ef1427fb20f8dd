"""Pure: the SMS text of an alarm message, in Chinese for the property manager, short enough for one part
(70 UCS-2 characters) with a site name of up to about 15 characters."""

from __future__ import annotations

import time

from cloud_bridge.alarm_kinds import chinese
from cloud_bridge.alarm_policy import CLEAR, ESCALATION, REPEAT
from cloud_bridge.alarm_settings import NotifierSettings

_HEADS = {REPEAT: "【充电桩告警·未确认】", ESCALATION: "【充电桩告警·升级】", CLEAR: "【充电桩恢复】"}
HEAD = "【充电桩告警】"


def local_time(at: float, settings: NotifierSettings) -> str:
    """``at`` (Unix seconds) as local ``YYYY-MM-DD HH:MM``."""
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(at + settings.utc_offset_min * 60))


def compose(
    kind: str, site: str, label: str, port: int, alarm: str, at: float, suppressed: int, settings: NotifierSettings
) -> str:
    """The text of a message of ``kind`` about ``alarm`` at ``port`` (0: the whole pile) of the pile shown
    as ``label`` at ``site``, happened at ``at`` (the raise, or for a clear the clear). ``suppressed``:
    messages to this recipient the daily cap held back since their last one."""
    where = " ".join(part for part in (site, label, "%d号口" % port if port else "") if part)
    what = chinese(alarm) + ("已恢复" if kind == CLEAR else "")
    text = "%s%s %s %s" % (_HEADS.get(kind, HEAD), where, what, local_time(at, settings))
    if suppressed:
        text += "（另有%d条超限未发）" % suppressed
    return text
