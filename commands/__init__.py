"""Command modules: one per command group. They import only click at module level."""
