"""lookup indexes: outbox and comments by submission, audit events by actor, course, platform

Revision ID: c4f2a8d19e37
Revises: d7a41c2e9f35
Create Date: 2026-12-02 12:00:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'c4f2a8d19e37'
down_revision = 'd7a41c2e9f35'
branch_labels = None
depends_on = None

INDEXES = [
    ('ix_outbox_submission', 'score_outbox', ['submission_id']),
    ('ix_comment_submission', 'comment', ['submission_id', 'at_seconds']),
    ('ix_audit_actor_at', 'audit_event', ['actor_id', 'at']),
    ('ix_audit_course_at', 'audit_event', ['course_id', 'at']),
    ('ix_audit_platform_at', 'audit_event', ['platform_id', 'at']),
]


def upgrade():
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade():
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
