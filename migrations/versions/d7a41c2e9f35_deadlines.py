"""deadlines: cut-off, number of attempts, where the due date came from, per-student extensions

Revision ID: d7a41c2e9f35
Revises: c4f2a8e61d07
Create Date: 2026-12-02 12:25:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd7a41c2e9f35'
down_revision = 'c4f2a8e61d07'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('due_source', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('cutoff_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('max_attempts', sa.Integer(), nullable=True))
    op.create_table('deadline_extension',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('assignment_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('cutoff_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('granted_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['assignment_id'], ['assignment.id'], name=op.f('fk_deadline_extension_assignment_id_assignment'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['granted_by_id'], ['user.id'], name=op.f('fk_deadline_extension_granted_by_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_deadline_extension_user_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deadline_extension')),
    sa.UniqueConstraint('assignment_id', 'user_id', name=op.f('uq_deadline_extension_assignment_id_user_id'))
    )


def downgrade():
    op.drop_table('deadline_extension')
    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.drop_column('max_attempts')
        batch_op.drop_column('cutoff_at')
        batch_op.drop_column('due_source')
