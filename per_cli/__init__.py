"""per: administration CLI for PER (Patientens egen registrering)."""

__version__ = "0.1.0"
