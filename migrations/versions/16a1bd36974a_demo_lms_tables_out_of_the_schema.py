"""demo LMS tables out of the production schema

The built-in demo LMS (top-level package `demo_lms`, on only with DEMO_LMS) keeps its ten
`demo_*` tables in a metadata of its own and creates them itself when it is first used;
the tool's schema no longer holds them. Upgrade drops those the initial migration created
(with any demo data: it is a development aid). Downgrade recreates the missing ones empty,
with the definitions of the initial migration, so older code finds them again.

Revision ID: 16a1bd36974a
Revises: 7c1e5a9d4b20
Create Date: 2026-12-02 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '16a1bd36974a'
down_revision = '7c1e5a9d4b20'
branch_labels = None
depends_on = None

# Children before parents: each table is dropped before those its foreign keys name.
DEMO_TABLES = (
    'demo_score', 'demo_launch_request', 'demo_lineitem', 'demo_resource_link',
    'demo_enrollment', 'demo_access_token', 'demo_user', 'demo_used_nonce', 'demo_tool',
    'demo_course',
)


def _existing_tables():
    return set(sa.inspect(op.get_bind()).get_table_names())


def upgrade():
    existing = _existing_tables()
    for name in DEMO_TABLES:
        if name in existing:
            op.drop_table(name)


def downgrade():
    existing = _existing_tables()
    for name in reversed(DEMO_TABLES):  # parents first
        if name not in existing:
            CREATE[name]()


def _create_demo_course():
    op.create_table('demo_course',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=255), nullable=False),
    sa.Column('label', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_demo_course')),
    sa.UniqueConstraint('key', name=op.f('uq_demo_course_key'))
    )


def _create_demo_tool():
    op.create_table('demo_tool',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('deployment_id', sa.String(length=64), nullable=False),
    sa.Column('issuer', sa.String(length=512), nullable=False),
    sa.Column('login_url', sa.String(length=1024), nullable=False),
    sa.Column('redirect_uris', sa.JSON(), nullable=False),
    sa.Column('jwks_uri', sa.String(length=1024), nullable=False),
    sa.Column('target_link_uri', sa.String(length=1024), nullable=False),
    sa.Column('deep_link_url', sa.String(length=1024), nullable=False),
    sa.Column('allowed_scopes', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_demo_tool')),
    sa.UniqueConstraint('client_id', name=op.f('uq_demo_tool_client_id')),
    sa.UniqueConstraint('login_url', name=op.f('uq_demo_tool_login_url'))
    )


def _create_demo_used_nonce():
    op.create_table('demo_used_nonce',
    sa.Column('value', sa.String(length=255), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('value', name=op.f('pk_demo_used_nonce'))
    )
    op.create_index(op.f('ix_demo_used_nonce_expires_at'), 'demo_used_nonce', ['expires_at'],
                    unique=False)


def _create_demo_user():
    op.create_table('demo_user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('given_name', sa.String(length=128), nullable=False),
    sa.Column('family_name', sa.String(length=128), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('is_site_admin', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_demo_user')),
    sa.UniqueConstraint('username', name=op.f('uq_demo_user_username'))
    )


def _create_demo_access_token():
    op.create_table('demo_access_token',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('tool_id', sa.Integer(), nullable=False),
    sa.Column('scopes', sa.JSON(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tool_id'], ['demo_tool.id'], name=op.f('fk_demo_access_token_tool_id_demo_tool'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_demo_access_token'))
    )


def _create_demo_enrollment():
    op.create_table('demo_enrollment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['demo_course.id'], name=op.f('fk_demo_enrollment_course_id_demo_course'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['demo_user.id'], name=op.f('fk_demo_enrollment_user_id_demo_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_demo_enrollment')),
    sa.UniqueConstraint('course_id', 'user_id', name=op.f('uq_demo_enrollment_course_id_user_id'))
    )


def _create_demo_resource_link():
    op.create_table('demo_resource_link',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('tool_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=255), nullable=False),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('url', sa.String(length=1024), nullable=True),
    sa.Column('custom', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['demo_course.id'], name=op.f('fk_demo_resource_link_course_id_demo_course'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tool_id'], ['demo_tool.id'], name=op.f('fk_demo_resource_link_tool_id_demo_tool'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_demo_resource_link'))
    )


def _create_demo_lineitem():
    op.create_table('demo_lineitem',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('tool_id', sa.Integer(), nullable=False),
    sa.Column('resource_link_id', sa.Integer(), nullable=True),
    sa.Column('label', sa.String(length=255), nullable=False),
    sa.Column('score_maximum', sa.Float(), nullable=False),
    sa.Column('resource_id', sa.String(length=255), nullable=True),
    sa.Column('tag', sa.String(length=255), nullable=True),
    sa.Column('start_date_time', sa.String(length=64), nullable=True),
    sa.Column('end_date_time', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['demo_course.id'], name=op.f('fk_demo_lineitem_course_id_demo_course'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['resource_link_id'], ['demo_resource_link.id'], name=op.f('fk_demo_lineitem_resource_link_id_demo_resource_link'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tool_id'], ['demo_tool.id'], name=op.f('fk_demo_lineitem_tool_id_demo_tool'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_demo_lineitem'))
    )


def _create_demo_launch_request():
    op.create_table('demo_launch_request',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('tool_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('resource_link_id', sa.Integer(), nullable=True),
    sa.Column('message_type', sa.String(length=64), nullable=False),
    sa.Column('roles', sa.JSON(), nullable=False),
    sa.Column('for_user_id', sa.Integer(), nullable=True),
    sa.Column('lineitem_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['demo_course.id'], name=op.f('fk_demo_launch_request_course_id_demo_course'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['for_user_id'], ['demo_user.id'], name=op.f('fk_demo_launch_request_for_user_id_demo_user'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['lineitem_id'], ['demo_lineitem.id'], name=op.f('fk_demo_launch_request_lineitem_id_demo_lineitem'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['resource_link_id'], ['demo_resource_link.id'], name=op.f('fk_demo_launch_request_resource_link_id_demo_resource_link'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tool_id'], ['demo_tool.id'], name=op.f('fk_demo_launch_request_tool_id_demo_tool'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['demo_user.id'], name=op.f('fk_demo_launch_request_user_id_demo_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_demo_launch_request'))
    )


def _create_demo_score():
    op.create_table('demo_score',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lineitem_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('score_given', sa.Float(), nullable=True),
    sa.Column('score_maximum', sa.Float(), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('activity_progress', sa.String(length=32), nullable=False),
    sa.Column('grading_progress', sa.String(length=32), nullable=False),
    sa.Column('timestamp', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('applied', sa.Boolean(), nullable=False),
    sa.Column('body', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['lineitem_id'], ['demo_lineitem.id'], name=op.f('fk_demo_score_lineitem_id_demo_lineitem'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['demo_user.id'], name=op.f('fk_demo_score_user_id_demo_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_demo_score'))
    )
    op.create_index('ix_demo_score_item_user', 'demo_score', ['lineitem_id', 'user_id'],
                    unique=False)


CREATE = {
    'demo_course': _create_demo_course,
    'demo_tool': _create_demo_tool,
    'demo_used_nonce': _create_demo_used_nonce,
    'demo_user': _create_demo_user,
    'demo_access_token': _create_demo_access_token,
    'demo_enrollment': _create_demo_enrollment,
    'demo_resource_link': _create_demo_resource_link,
    'demo_lineitem': _create_demo_lineitem,
    'demo_launch_request': _create_demo_launch_request,
    'demo_score': _create_demo_score,
}
