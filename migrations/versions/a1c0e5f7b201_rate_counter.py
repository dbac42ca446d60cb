"""rate limit counters shared by every worker

Revision ID: a1c0e5f7b201
Revises: 2558c07e80d6
Create Date: 2026-12-02 03:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'a1c0e5f7b201'
down_revision = '2558c07e80d6'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('rate_counter',
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_rate_counter'))
    )
    with op.batch_alter_table('rate_counter', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rate_counter_expires_at'), ['expires_at'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('rate_counter', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rate_counter_expires_at'))
    op.drop_table('rate_counter')
