"""Patients' rights (README, "Patients' rights"): erasure with a tombstone, objections honoured, the extract."""
