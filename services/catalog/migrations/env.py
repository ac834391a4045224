from services.catalog.models import Base
from services.shared.alembic_env import run_migrations

run_migrations(Base.metadata)
