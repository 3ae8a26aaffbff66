"""Credentials: patient and care giver passwords, one-time codes, sessions."""
