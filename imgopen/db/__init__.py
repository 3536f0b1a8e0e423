"""Database: ORM tables, engine set-up and migrations."""
