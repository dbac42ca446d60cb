"""handoff links: the phone hand-off's short-lived, hashed upload links (lti_tool/handoff)

Revision ID: e5b1c7a93d42
Revises: c4f2a8d19e37
Create Date: 2026-12-02 15:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e5b1c7a93d42'
down_revision = 'c4f2a8d19e37'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'handoff_link',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('assignment_id', sa.Integer(), nullable=False),
        sa.Column('phone_launch_id', sa.String(length=64), nullable=True),
        sa.Column('video_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['assignment_id'], ['assignment.id'], name=op.f('fk_handoff_link_assignment_id_assignment'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_handoff_link_user_id_user'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['video_id'], ['video.id'], name=op.f('fk_handoff_link_video_id_video'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_handoff_link')),
        sa.UniqueConstraint('code_hash', name=op.f('uq_handoff_link_code_hash')),
    )
    with op.batch_alter_table('handoff_link', schema=None) as batch_op:
        batch_op.create_index('ix_handoff_link_owner', ['user_id', 'assignment_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_handoff_link_expires_at'), ['expires_at'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('handoff_link', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_handoff_link_expires_at'))
        batch_op.drop_index('ix_handoff_link_owner')
    op.drop_table('handoff_link')
