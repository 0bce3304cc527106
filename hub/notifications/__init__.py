"""Outbound notifications: sent once per key, every attempt on record."""
