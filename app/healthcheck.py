"""Container health check, standard library only (the image has no curl).

Used by the Dockerfile HEALTHCHECK (for `docker run`) and by the ECS task
definition in service.yml (ECS ignores the image's). Exit 0 when
GET /api/health-check on this container answers 200 within 2 s, else 1.
"""
import os
import sys
import urllib.request

PATH = "/api/health-check"


def main() -> int:
    url = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}{PATH}"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (fixed loopback URL)
            return 0 if response.status == 200 else 1
    except Exception as exc:  # any failure means unhealthy
        print(f"health check failed: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
