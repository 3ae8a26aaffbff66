"""Sending patients new passwords by SMS and e-mail (README, "Passwords by SMS and e-mail"): texts, one patient, a list.

``single.send_password`` is the support desk's "Skicka nytt lösenord"; ``bulk.send_file`` does the same for
every patient in a list. Both share ``core``: settings, contact checks, the per-channel send and the one
transaction that stores the outcome. Nothing is imported here, so ``per password --help`` stays light.
"""
