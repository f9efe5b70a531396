"""The sample: notes in DynamoDB (views.py, schemas.py, store.py).

create_app registers `bp`; registering it builds the store from NotesSettings (the environment)
and adds its readiness check. To remove the sample: delete this folder, its two lines in
create_app, notes-data.yml and its block in parent.yml (docs/services.md).
"""
from .views import bp

__all__ = ["bp"]
