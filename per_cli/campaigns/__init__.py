"""Password campaigns: every password send is one, with an id printed at its start.

``store`` creates and finds campaigns and keeps each patient's state in ``campaign_target``; ``report`` shows
them (``per campaign show``, ``per password status``); ``refresh`` asks the SMS providers what became of the
messages; ``work`` runs queued campaigns on PostgreSQL. Nothing is imported here, so ``--help`` stays light.
"""
