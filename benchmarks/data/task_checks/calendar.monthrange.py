"""calendar.monthrange: Raise a ValueError when year is negative."""

SETUP = "from calendar import IllegalMonthError, weekday, mdays, February, isleap"

REFERENCE = '''def monthrange(year, month):
    """Return weekday (0-6 ~ Mon-Sun) and number of days (28-31) for
       year, month."""
    if year < 0:
        raise ValueError(f"year must not be negative, got {year}")
    if not 1 <= month <= 12:
        raise IllegalMonthError(month)
    day1 = weekday(year, month, 1)
    ndays = mdays[month] + (month == February and isleap(year))
    return day1, ndays
'''

# the asked behaviour: a negative year raises ValueError (whatever the month)
raises(ValueError, monthrange, -1, 1)
raises(ValueError, monthrange, -2024, 2)
raises(ValueError, monthrange, -400, 12)

# year 0 is not negative and keeps working
assert monthrange(0, 1) == (5, 31)
assert monthrange(0, 2) == (1, 29)

# the behaviour is kept: leap years, century rules, the edges of the range, bad months
assert monthrange(2024, 2) == (3, 29)
assert monthrange(2023, 2) == (2, 28)
assert monthrange(1900, 2) == (3, 28)
assert monthrange(2000, 2) == (1, 29)
assert monthrange(1, 1) == (0, 31)
assert monthrange(9999, 12) == (2, 31)
assert monthrange(10000, 3) == (2, 31)
raises(IllegalMonthError, monthrange, 2024, 13)
raises(IllegalMonthError, monthrange, 2024, 0)
