"""Logging a patient in: password + one-time code, care giver proxy, BankID; refusals and session issue."""
