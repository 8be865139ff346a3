"""Join the two lines of migrations that grew in parallel from 0002: the map tallies
(0020, 0021) and the digests (0030). Nothing to change: their tables are independent.

Revision ID: 0050
Revises: 0021, 0030
Create Date: 2026-11-27
"""

from collections.abc import Sequence

revision: str = "0050"
down_revision: str | Sequence[str] | None = ("0021", "0030")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
