"""Staff accounts on PostgreSQL: database login roles in the group roles of ``per_cli.db.roles``, their care
units (table ``staff_unit``), and what the app does with a login's limits (README, "Deploying for a registry")."""
