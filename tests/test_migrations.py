"""The migrations: each file is named after its revision (the start-up check relies on it), and a
database migrated to the head is recognised as such without alembic."""

from __future__ import annotations

import re
from pathlib import Path

from imgopen.db.engine import MIGRATIONS_DIR, Database, head_revision


def test_each_migration_file_is_named_after_its_revision() -> None:
    files = sorted((MIGRATIONS_DIR / "versions").glob("[0-9]*_*.py"))
    assert files
    previous = None
    for path in files:
        text = path.read_text()
        revision = re.search(r'^revision = "([^"]+)"', text, re.M)
        down = re.search(r"^down_revision = (None|\"[^\"]+\")", text, re.M)
        assert revision and down, path.name
        assert revision.group(1) == path.name.split("_", 1)[0], path.name
        assert down.group(1).strip('"') == (previous or "None"), f"{path.name}: not after {previous}"
        previous = revision.group(1)
    assert head_revision() == previous


def test_a_new_database_is_not_at_head_until_migrated(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'new.db'}")
    assert not database.at_head()
    database.migrate()
    assert database.at_head()
    database.migrate()  # at the head: nothing to do
    database.dispose()
