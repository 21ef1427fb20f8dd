"""The alarm types the notifier knows: their class, their name in Chinese, and the pile's own reports.

A type not listed here is ``normal`` and is named by its English name in a message; the classes can be
overridden in the notifier's settings (``NotifierSettings.classes``), ``ignore`` included.
"""

from __future__ import annotations

CRITICAL, NORMAL, IGNORE = "critical", "normal", "ignore"
CLASSES = (CRITICAL, NORMAL, IGNORE)

# The pile's report of an SMS it sent itself: never an alarm to notify about (docs/alarms.md).
SMS_SENT = "sms_sent"
# The bridge's own alarm: the pile's presence offline for longer than ``offline_after_s``.
OFFLINE = "offline"
# Records of a firmware before key 6 that clear another type: (clearing type, the type it clears).
LEGACY_CLEARS = {"meter_back": "meter_lost"}

DEFAULT_CLASSES = {
    "smoke": CRITICAL,
    "heat": CRITICAL,
    "short_circuit": CRITICAL,
    "relay_welded": CRITICAL,
    "fuse_blown": CRITICAL,
    "control_fault": CRITICAL,
    "safe_mode": CRITICAL,
    "meter_lost": CRITICAL,
    "task_hung": CRITICAL,
    "heat_warn": NORMAL,
    "flash_fault": NORMAL,
    "cloud_fault": NORMAL,
    "modem_fault": NORMAL,
    "ui_fault": NORMAL,
    "card_fault": NORMAL,
    OFFLINE: NORMAL,
    # A resident's card refused at the keypad: a record for the operator's reports, not worth an SMS.
    "card_refused": IGNORE,
}

CHINESE = {
    "smoke": "烟雾报警",
    "heat": "柜内超温停机",
    "heat_warn": "柜内温度偏高",
    "short_circuit": "短路保护",
    "fuse_blown": "保险丝熔断",
    "relay_welded": "继电器粘连",
    "meter_lost": "电表通信中断",
    "control_fault": "控制故障",
    "safe_mode": "进入安全模式",
    "task_hung": "程序卡死复位",
    "flash_fault": "存储故障",
    "cloud_fault": "联网故障",
    "modem_fault": "4G模块故障",
    "ui_fault": "显示按键故障",
    "card_fault": "读卡器故障",
    OFFLINE: "离线",
}

# The types the pile texts to its own contacts itself (P6): the bridge waits for its ``sms_sent`` reports.
PILE_TEXTS = ("smoke", "heat")


def chinese(alarm: str) -> str:
    """The type's name in a message."""
    return CHINESE.get(alarm, alarm)
