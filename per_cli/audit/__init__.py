"""The access log: events and their hash chain, queries, verification, the patient's extract, review, prune."""
