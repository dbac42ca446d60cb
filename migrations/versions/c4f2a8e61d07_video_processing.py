"""video processing: probe results, progress and the worker's lease on each video

Revision ID: c4f2a8e61d07
Revises: b3d9e1f04a11
Create Date: 2026-12-02 12:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c4f2a8e61d07'
down_revision = 'b3d9e1f04a11'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('video', schema=None) as batch_op:
        batch_op.add_column(sa.Column('media_info', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('processing_percent', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('processing_eta_seconds', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('processing_lease_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('processing_tries', sa.Integer(), nullable=False,
                                      server_default='0'))


def downgrade():
    with op.batch_alter_table('video', schema=None) as batch_op:
        batch_op.drop_column('processing_tries')
        batch_op.drop_column('processing_lease_until')
        batch_op.drop_column('processing_eta_seconds')
        batch_op.drop_column('processing_percent')
        batch_op.drop_column('media_info')
