"""platform.extra_origins: browser origins an admin allowed for a registration

Revision ID: 7c3e5a91d2b4
Revises: a1c0e5f7b201
Create Date: 2026-12-10 09:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7c3e5a91d2b4'
down_revision = 'a1c0e5f7b201'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('platform', schema=None) as batch_op:
        batch_op.add_column(sa.Column('extra_origins', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('platform', schema=None) as batch_op:
        batch_op.drop_column('extra_origins')
