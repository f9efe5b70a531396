"""What a user of the deployment must see. Every assertion names the URL it checked."""
from __future__ import annotations

import uuid

import pytest
import requests

from tests.smoke.conftest import wrong_versions

SECURITY_HEADERS = ("X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy", "Content-Security-Policy")
TIMEOUT = 15


def get(url: str, **kwargs) -> requests.Response:
    return requests.get(url, timeout=TIMEOUT, **kwargs)


def test_home_page_is_html_with_security_headers(deployment):
    url = deployment.frontend_url + "/"
    r = get(url)
    assert r.status_code == 200, f"GET {url}: {r.status_code}"
    assert r.headers["Content-Type"].startswith("text/html"), f"GET {url}: {r.headers['Content-Type']}"
    missing = [h for h in SECURITY_HEADERS if h not in r.headers]
    if deployment.https:
        missing += [] if "Strict-Transport-Security" in r.headers else ["Strict-Transport-Security"]
    assert not missing, f"GET {url}: missing security headers {missing}"


def test_deep_link_is_the_app_page(deployment):
    url = f"{deployment.frontend_url}/notes/{'0' * 28}"
    r = get(url)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html"), f"GET {url}: {r.status_code}"
    assert "<title>Notes" in r.text, f"GET {url}: not the app's index.html"


def test_health_check_reports_the_deployed_version(deployment):
    """The sample's health check answers ok; each health check whose version is known (a service's
    descriptor: the source the stack built its image from) reports that version, so a deploy whose tasks
    still run the previous image fails here."""
    url = deployment.frontend_url + "/api/health-check"
    r = get(url)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json"), f"GET {url}"
    body = r.json()
    assert body["status"] == "ok", f"GET {url}: {body}"
    assert wrong_versions(deployment, get) == []


def test_every_service_answers_its_health_check_through_cloudfront(deployment):
    """Each service's healthCheckPath (its descriptor output), on the site's domain: the path routing
    CloudFront does per service prefix reaches each one."""
    for service, url in deployment.health_checks.items():
        r = get(url)
        assert r.status_code == 200, f"GET {url} ({service}): {r.status_code}"
        assert r.headers["Content-Type"].startswith("application/json"), f"GET {url} ({service})"


def test_unknown_api_path_is_a_json_404_not_the_page(deployment):
    url = f"{deployment.frontend_url}/api/no-such-thing-{uuid.uuid4().hex[:6]}"
    r = get(url)
    assert r.status_code == 404, f"GET {url}: {r.status_code}"
    assert r.headers["Content-Type"].startswith("application/json"), f"GET {url}: {r.headers['Content-Type']}"
    assert r.json()["error"]["code"] == "not_found"


def test_note_round_trip_cleans_up(deployment):
    base = deployment.frontend_url + "/api/notes"
    text = f"smoke test {uuid.uuid4()}"
    created = requests.post(base, json={"text": text}, timeout=TIMEOUT)
    assert created.status_code == 201, f"POST {base}: {created.status_code} {created.text[:200]}"
    note = created.json()
    try:
        one = get(f"{base}/{note['id']}")
        assert one.status_code == 200 and one.json()["text"] == text, f"GET {base}/{note['id']}"
        listed = get(base, params={"limit": 100}).json()["items"]
        assert note["id"] in [n["id"] for n in listed], f"GET {base}: the new note is not listed"
    finally:
        deleted = requests.delete(f"{base}/{note['id']}", timeout=TIMEOUT)
    assert deleted.status_code == 204, f"DELETE {base}/{note['id']}: {deleted.status_code}"
    assert get(f"{base}/{note['id']}").status_code == 404


@pytest.mark.aws_only("CloudFront redirects HTTP to HTTPS; a local URL is plain HTTP")
def test_http_redirects_to_https(deployment):
    url = deployment.frontend_url.replace("https://", "http://", 1) + "/"
    r = get(url, allow_redirects=False)
    assert r.status_code in (301, 302, 307, 308), f"GET {url}: {r.status_code}"
    assert r.headers["Location"].startswith("https://"), f"GET {url}: Location {r.headers.get('Location')}"


@pytest.mark.aws_only("the API's own URL (API Gateway or the ALB) exists only in AWS")
def test_api_url_refuses_callers_that_skip_cloudfront(deployment):
    """Only CloudFront's requests carry X-Origin-Verify. API Gateway's hostname still answers,
    with a 403 (counted by the stage throttle); the ALB admits only CloudFront's addresses."""
    assert deployment.api_url, "the stack has no ApiUrl output"
    url = deployment.api_url + "/api/notes"
    if deployment.ingress == "LoadBalancer":
        with pytest.raises(requests.exceptions.ConnectionError):  # ConnectTimeout is one
            requests.get(url, timeout=5)
        return
    for headers in ({}, {"X-Origin-Verify": "a-guess"}):
        r = get(url, headers=headers)
        assert r.status_code == 403, f"GET {url} {headers}: {r.status_code} (only CloudFront may call the API)"
        assert r.headers["Content-Type"].startswith("application/json"), f"GET {url}: {r.headers['Content-Type']}"
        assert r.json()["error"]["code"] == "origin_forbidden", f"GET {url}: {r.text[:200]}"
    health = deployment.api_url + "/api/health-check"
    assert get(health).status_code == 200, f"GET {health}: the health check stays open (load balancer, make status)"


@pytest.mark.aws_only("CloudFront replaces a viewer's X-Origin-Verify with its own; a local URL has no CloudFront")
def test_a_forged_origin_header_through_cloudfront_changes_nothing(deployment):
    url = deployment.frontend_url + "/api/notes"
    r = get(url, headers={"X-Origin-Verify": "forged"})
    assert r.status_code == 200, f"GET {url} with a forged X-Origin-Verify: {r.status_code}"


@pytest.mark.aws_only("the bucket exists only in AWS")
def test_bucket_is_not_readable_directly(deployment):
    assert deployment.bucket, "the stack has no BucketName output"
    url = f"https://{deployment.bucket}.s3.amazonaws.com/index.html"
    r = get(url)
    assert r.status_code == 403, f"GET {url}: {r.status_code} (the bucket must only be readable by CloudFront)"
