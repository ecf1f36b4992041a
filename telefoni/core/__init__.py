"""The ground everything stands on: settings, database engines, locks, migrations and the
personnummer vault. Nothing here imports a task, a flow or an entry point."""
