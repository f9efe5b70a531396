"""The real-server tier's WSGI app: the app create_app() builds from the environment, as app/api/wsgi.py
does (the sample too, while it is there), plus the tests' `probe` blueprint and its readiness check. The
server runs it exactly as the image runs app/api/wsgi.py, only named on the command line:

    PYTHONPATH=<repository root> python app/entrypoint.py tests.support.probe_wsgi:app

(gunicorn takes the command line's app over gunicorn.conf.py's `wsgi_app`; LocalStack(wsgi_app=...) does this.)
"""
from api import create_app, health

from tests.support.probe import ping, register

app = register(create_app())
health.add_readiness_check(app, "probe", ping)
