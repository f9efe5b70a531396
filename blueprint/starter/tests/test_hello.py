from api.config import API_PREFIX


def test_hello(client):
    response = client.get(f"{API_PREFIX}/hello")
    assert response.status_code == 200 and response.get_json() == {"message": "Hello!"}


def test_health_and_openapi_live_under_the_services_prefix(client):
    assert client.get(f"{API_PREFIX}/health-check").get_json()["status"] == "ok"
    assert f"{API_PREFIX}/hello" in client.get(f"{API_PREFIX}/openapi.json").get_json()["paths"]
    assert client.get(f"{API_PREFIX}/nowhere").get_json()["error"]["code"] == "not_found"
