"""video (platform, status) index: the dashboard's processing queue reads the few videos
processing or failed instead of every video of the platform

Without it the queue's counts and its list of waiting and running videos scanned the whole
video table (25 ms and 22 ms of the dashboard's 222 ms at 100,000 videos,
bench/admin_bench.py).

Revision ID: a7c1d9e3f5b2
Revises: e5b7d3a90c21
Create Date: 2026-12-02 16:25:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'a7c1d9e3f5b2'
down_revision = 'e5b7d3a90c21'
branch_labels = None
depends_on = None

INDEXES = [
    ('ix_video_platform_status', 'video', ['platform_id', 'status']),
]


def upgrade():
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade():
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
