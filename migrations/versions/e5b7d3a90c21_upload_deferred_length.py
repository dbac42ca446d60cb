"""upload length may be deferred: a browser recording's upload learns its length at the end

Revision ID: e5b7d3a90c21
Revises: f3a9c2d7b5e8
Create Date: 2026-12-02 15:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e5b7d3a90c21'
down_revision = 'f3a9c2d7b5e8'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('upload', schema=None) as batch_op:
        batch_op.alter_column('length', existing_type=sa.BigInteger(), nullable=True)


def downgrade():
    op.execute("DELETE FROM upload WHERE length IS NULL")
    with op.batch_alter_table('upload', schema=None) as batch_op:
        batch_op.alter_column('length', existing_type=sa.BigInteger(), nullable=False)
