"""The shared database: engine set-up, typed models, schema checks (migrations live in ``per_cli.migrations``)."""
