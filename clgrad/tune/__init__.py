"""Kernel tuning: search kernel parameters per device and keep the winners in a database."""
