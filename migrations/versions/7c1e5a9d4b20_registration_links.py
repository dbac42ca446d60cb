"""registration links: one-time URLs for LTI_REGISTRATION=link

Revision ID: 7c1e5a9d4b20
Revises: 7c3e5a91d2b4
Create Date: 2026-12-10 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7c1e5a9d4b20'
down_revision = '7c3e5a91d2b4'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('registration_link',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('note', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('platform_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['platform_id'], ['platform.id'], name=op.f('fk_registration_link_platform_id_platform'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_registration_link')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_registration_link_token_hash'))
    )


def downgrade():
    op.drop_table('registration_link')
