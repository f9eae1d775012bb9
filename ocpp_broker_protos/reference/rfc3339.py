"""RFC 3339 UTC timestamps as protobuf's JSON mapping writes them, fast.

Only ``YYYY-MM-DDTHH:MM:SS[.F{1,9}]Z`` is read here, the form every
timestamp of an exported fixture has; anything else (offsets, leap seconds,
bad text) gets None, and the caller asks ``json_format`` for the exact result
or error. A fleet's timestamps share few dates and at most 86,400 times of
day, so each part is worked out once and then looked up.
"""

from __future__ import annotations

import calendar
import datetime

#: Seconds since the epoch of a date ("2026-01-02") and of a time of day
#: ("08:00:00"); read-only outside this module.
DAYS: dict[str, int] = {}
TIMES_OF_DAY: dict[str, int] = {}


def digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def day(text: str) -> int | None:
    found = DAYS.get(text)
    if found is None:
        if not (len(text) == 10 and text[4] == text[7] == "-" and digits(text[:4] + text[5:7] + text[8:])):
            return None
        try:
            date = datetime.date(int(text[:4]), int(text[5:7]), int(text[8:]))
        except ValueError:
            return None
        found = DAYS[text] = calendar.timegm(date.timetuple())
    return found


def time_of_day(text: str) -> int | None:
    found = TIMES_OF_DAY.get(text)
    if found is None:
        if not (len(text) == 8 and text[2] == text[5] == ":" and digits(text[:2] + text[3:5] + text[6:])):
            return None
        hours, minutes, seconds = int(text[:2]), int(text[3:5]), int(text[6:])
        if hours > 23 or minutes > 59 or seconds > 59:
            return None
        found = TIMES_OF_DAY[text] = hours * 3600 + minutes * 60 + seconds
    return found


#: For texts read a column at a time: seconds since the epoch of a date and
#: hour ("2026-01-02T08"), of minutes and seconds with their colon
#: (":30:00", all 3600 of them) and nanoseconds of the rest, a fraction and
#: the final Z ("Z", and ".5Z" to ".999Z"; longer ones go to
#: :func:`suffix`). Each table holds valid texts only, so finding a text's
#: three parts proves the text valid. Small tables, unlike a table of all
#: 86,400 times of day, stay in the CPU's cache.
HOURS: dict[str, int] = {}
MINUTES: dict[str, int] = {f":{m:02d}:{s:02d}": m * 60 + s for m in range(60) for s in range(60)}
SUFFIXES: dict[str, int] = {
    f".{n:0{width}d}Z": n * 10 ** (9 - width) for width in range(1, 4) for n in range(10**width)
} | {"Z": 0}


def suffix(text: str) -> int | None:
    """Nanoseconds of a fraction and Z (".123456Z"), or None."""
    found = SUFFIXES.get(text)
    if found is None and 3 <= len(text) <= 11 and text[0] == "." and text[-1] == "Z" and digits(text[1:-1]):
        found = int(text[1:-1].ljust(9, "0"))
    return found


def hour(text: str) -> int | None:
    """Seconds since the epoch of "YYYY-MM-DDTHH", or None."""
    found = HOURS.get(text)
    if found is None:
        date = day(text[:10])
        hours = text[11:]
        if date is None or len(text) != 13 or text[10] != "T" or not digits(hours) or int(hours) > 23:
            return None
        found = HOURS[text] = date + int(hours) * 3600
    return found


def parse(value: str) -> tuple[int, int] | None:
    """(seconds, nanos) of value, or None when it is not in the plain form."""
    if not 20 <= len(value) <= 30 or value[10] != "T" or value[-1] != "Z":
        return None
    seconds = day(value[:10])
    since_midnight = time_of_day(value[11:19])
    if seconds is None or since_midnight is None:
        return None
    if len(value) == 20:
        return seconds + since_midnight, 0
    fraction = value[20:-1]
    if value[19] != "." or not digits(fraction):
        return None
    return seconds + since_midnight, int(fraction.ljust(9, "0"))
