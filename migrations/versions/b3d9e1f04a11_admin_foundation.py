"""admin foundation: job runs, legal hold, per-assignment retention, operator-granted admins

Revision ID: b3d9e1f04a11
Revises: 16a1bd36974a
Create Date: 2026-12-02 11:50:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b3d9e1f04a11'
down_revision = '16a1bd36974a'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('job_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('duration_seconds', sa.Float(), nullable=True),
    sa.Column('ok', sa.Boolean(), nullable=True),
    sa.Column('dry_run', sa.Boolean(), nullable=False),
    sa.Column('counts', sa.JSON(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_run'))
    )
    op.create_index('ix_job_run_name_started', 'job_run', ['name', 'started_at'], unique=False)
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('admin_granted', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retention_days', sa.Integer(), nullable=True))
    with op.batch_alter_table('video', schema=None) as batch_op:
        batch_op.add_column(sa.Column('legal_hold', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade():
    with op.batch_alter_table('video', schema=None) as batch_op:
        batch_op.drop_column('legal_hold')
    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.drop_column('retention_days')
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('admin_granted')
    op.drop_index('ix_job_run_name_started', table_name='job_run')
    op.drop_table('job_run')
