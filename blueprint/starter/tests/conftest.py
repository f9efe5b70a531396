"""The service's unit tests: the app through Flask's test client."""
import pytest
from api import create_app
from api.config import Settings


@pytest.fixture
def client():
    return create_app(Settings(app_version="test")).test_client()
