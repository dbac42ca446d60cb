"""platform_id on video and score_outbox: the admin dashboard counts one table, not four

Every count and sum of the dashboard reached the platform through submission, assignment
and course, over all of the platform's videos and scores (bench/admin_bench.py). The column
is filled from that chain here and on every insert after (models.submission_platform); a
submission's platform never changes, so the copy cannot go stale. On PostgreSQL the whole
upgrade is one transaction and adding the column locks the table, so no row can be inserted
between the backfill and NOT NULL.

Revision ID: f3a9c2d7b5e8
Revises: e5b7c9d2a4f1
Create Date: 2026-12-02 15:45:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f3a9c2d7b5e8'
down_revision = 'e5b7c9d2a4f1'
branch_labels = None
depends_on = None

TABLES = ['video', 'score_outbox']
INDEXES = [
    ('ix_video_platform_created', 'video', ['platform_id', 'created_at']),
    ('ix_outbox_platform_status', 'score_outbox', ['platform_id', 'status', 'created_at']),
]
BACKFILL = """
UPDATE {table} SET platform_id = (
    SELECT course.platform_id FROM submission
    JOIN assignment ON assignment.id = submission.assignment_id
    JOIN course ON course.id = assignment.course_id
    WHERE submission.id = {table}.submission_id)
"""


def upgrade():
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('platform_id', sa.Integer(), nullable=True))
        op.execute(BACKFILL.format(table=table))
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('platform_id', existing_type=sa.Integer(), nullable=False)
            batch_op.create_foreign_key(f'fk_{table}_platform_id_platform', 'platform',
                                        ['platform_id'], ['id'], ondelete='CASCADE')
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade():
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    for table in reversed(TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(f'fk_{table}_platform_id_platform', type_='foreignkey')
            batch_op.drop_column('platform_id')
