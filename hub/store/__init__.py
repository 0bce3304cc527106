"""The store: settings, the database engine and sessions, the tables, their migrations, secrets at rest."""
