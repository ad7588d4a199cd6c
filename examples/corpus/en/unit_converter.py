"""Small helpers for converting between common units of measurement.

This module converts temperatures between Celsius and Fahrenheit, and
distances between kilometres and miles. It is written for a kitchen or
travel calculator, so it favours clarity over speed.

Example:
    >>> celsius_to_fahrenheit(100)
    212.0
    >>> round(km_to_miles(10), 2)
    6.21
"""

KM_PER_MILE = 1.609344
"""Exact number of kilometres in one international mile."""


def celsius_to_fahrenheit(celsius: float) -> float:
    """Convert a temperature from degrees Celsius to degrees Fahrenheit.

    Water freezes at 0 degrees Celsius (32 Fahrenheit) and boils at
    100 degrees Celsius (212 Fahrenheit) at sea level.
    """
    return celsius * 9 / 5 + 32


def fahrenheit_to_celsius(fahrenheit: float) -> float:
    """Convert a temperature from degrees Fahrenheit to degrees Celsius.

    This is the inverse of :func:`celsius_to_fahrenheit`, so an oven set
    to 350 Fahrenheit is roughly 177 degrees Celsius.
    """
    return (fahrenheit - 32) * 5 / 9


def km_to_miles(km: float) -> float:
    """Convert a distance in kilometres to miles.

    Raises:
        ValueError: if the distance is negative.
    """
    if km < 0:
        raise ValueError("distance cannot be negative")
    return km / KM_PER_MILE


def miles_to_km(miles: float) -> float:
    """Convert a distance in miles to kilometres.

    Raises:
        ValueError: if the distance is negative.
    """
    if miles < 0:
        raise ValueError("distance cannot be negative")
    return miles * KM_PER_MILE


if __name__ == "__main__":
    import doctest

    doctest.testmod()
