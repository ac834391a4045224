from services.shared.alembic_env import run_migrations
from services.transcoder.models import Base

run_migrations(Base.metadata)
