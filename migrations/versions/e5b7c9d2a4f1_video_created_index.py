"""video upload time index: the admin videos list (newest first) walks it and stops at a page

Without it PostgreSQL sorted every video of the platform to show 50 (bench/admin_bench.py);
the dashboard's window of uploads reads it too.

Revision ID: e5b7c9d2a4f1
Revises: e5b1c7a93d42
Create Date: 2026-12-02 15:10:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'e5b7c9d2a4f1'
down_revision = 'e5b1c7a93d42'
branch_labels = None
depends_on = None

INDEXES = [
    ('ix_video_created', 'video', ['created_at']),
]


def upgrade():
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade():
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
