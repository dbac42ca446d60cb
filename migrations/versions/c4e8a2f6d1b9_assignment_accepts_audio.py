"""assignment.accepts_audio: the instructor lets students hand in sound-only recordings

Off by default: every existing assignment keeps refusing files without a picture.

Revision ID: c4e8a2f6d1b9
Revises: a7c1d9e3f5b2
Create Date: 2026-12-02 16:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c4e8a2f6d1b9'
down_revision = 'a7c1d9e3f5b2'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('assignment') as batch_op:
        batch_op.add_column(sa.Column('accepts_audio', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade():
    with op.batch_alter_table('assignment') as batch_op:
        batch_op.drop_column('accepts_audio')
