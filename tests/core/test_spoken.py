"""Amounts as the voice module says them (firmware/spoken.py), on CPython and MicroPython."""

from firmware.spoken import yuan_clips

WORDS = "零一二三四五六七八九十百千万点元"


def said(fen):
    clips = yuan_clips(fen)
    return "".join(WORDS[int(clips[index : index + 2])] for index in range(0, len(clips), 2))


def test_whole_yuan_are_read_the_chinese_way():
    assert said(0) == "零元"
    assert said(100) == "一元"
    assert said(1000) == "十元"
    assert said(1500) == "十五元"
    assert said(2000) == "二十元"
    assert said(11000) == "一百一十元"
    assert said(10500) == "一百零五元"
    assert said(100500) == "一千零五元"
    assert said(105000) == "一千零五十元"
    assert said(1200000) == "一万二千元"
    assert said(1000500) == "一万零五元"


def test_jiao_and_fen_follow_the_point():
    assert said(1234) == "十二点三四元"
    assert said(1230) == "十二点三元"
    assert said(5) == "零点零五元"
    assert said(123450) == "一千二百三十四点五元"


def test_clip_names_are_two_ascii_digits_each():
    clips = yuan_clips(1234)
    assert len(clips) % 2 == 0
    for byte in clips:
        assert 48 <= byte <= 57
