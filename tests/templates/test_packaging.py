"""What `sam deploy` uploads, proved with the real SAM CLI against a local S3 emulator: `sam package` (the
upload step of `sam deploy` and `sam deploy --guided`) run on a copy of the repository, with botocore's
`AWS_ENDPOINT_URL` pointing at moto's server (https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html).

The stack builds its images and publishes its site from what this step uploads (docs/deploy.md, "What the
stack builds"): each service's build context and frontend/ as a Lambda layer, the custom resources' code as
a function. So: every layer's ContentUri and every function's CodeUri, in the parent and in every nested
template, is an S3 object holding what the build needs at the zip's root (a Dockerfile; index.html; the
handlers); and the object's key follows the content, which is what makes an unchanged context build nothing
and a changed one build again (SAM names the key by a hash of the directory's files,
samcli/lib/package/utils.py zip_folder)."""
from __future__ import annotations

import io
import os
import subprocess
import zipfile
from pathlib import Path

import boto3
import pytest
import yaml
from moto.server import ThreadedMotoServer

from blueprint.templates import PARENT, load, service_resources
from tests.support.copies import repository_copy

ROOT = Path(__file__).resolve().parents[2]
SAM = ROOT / ".venv-sam" / "bin" / "sam"
BUCKET = "aws-sam-cli-managed-default-samclisourcebucket-test"

pytestmark = pytest.mark.server


class _Loader(yaml.SafeLoader):
    """YAML with CloudFormation's short forms kept as plain data (the packaged templates SAM writes use the
    long forms, but a nested template it uploads keeps the author's)."""


_Loader.add_multi_constructor("!", lambda loader, suffix, node: None)


@pytest.fixture(scope="module")
def s3_emulator():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    s3.create_bucket(Bucket=BUCKET)
    yield url, s3
    server.stop()


@pytest.fixture(scope="module")
def copy(tmp_path_factory):
    """The files a deploy reads (no tests or docs: they change no upload)."""
    return repository_copy(tmp_path_factory.mktemp("fork"),
                           leave_out=lambda name: name.startswith(("tests/", "docs/")))


def package(copy: Path, endpoint: str) -> dict:
    env = {**os.environ, "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "SAM_CLI_TELEMETRY": "0"}
    env.pop("AWS_PROFILE", None)
    out = copy / "packaged.yml"
    result = subprocess.run([str(SAM), "package", "--template-file", "parent.yml", "--s3-bucket", BUCKET,
                             "--output-template-file", str(out), "--region", "us-east-1"],
                            cwd=copy, env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    return yaml.load(out.read_text(), Loader=_Loader)


def s3_key(uri: str) -> str:
    """The key of an s3://bucket/key URI or of the emulator's http://host/bucket/key URL."""
    assert BUCKET in uri, uri
    return uri.split(f"{BUCKET}/", 1)[1]


def zip_names(s3, uri: str) -> set[str]:
    body = s3.get_object(Bucket=BUCKET, Key=s3_key(uri))["Body"].read()
    return set(zipfile.ZipFile(io.BytesIO(body)).namelist())


def uploads(s3, packaged: dict) -> dict[str, str]:
    """stack/logical id -> the S3 URI of every uploaded layer and function code, parent and children."""
    found = {}
    stacks = [("parent", packaged)]
    while stacks:
        name, template = stacks.pop()
        for key, resource in (template.get("Resources") or {}).items():
            props = resource.get("Properties") or {}
            kind = resource.get("Type")
            if kind == "AWS::Serverless::LayerVersion":
                found[f"{name}/{key}"] = props["ContentUri"]
            elif kind == "AWS::Serverless::Function":
                found[f"{name}/{key}"] = props["CodeUri"]
            elif kind == "AWS::Lambda::Function" and isinstance(props.get("Code"), dict) and "S3Key" in props["Code"]:
                found[f"{name}/{key}"] = f"s3://{props['Code']['S3Bucket']}/{props['Code']['S3Key']}"
            elif kind == "AWS::Serverless::Application":
                body = s3.get_object(Bucket=BUCKET, Key=s3_key(props["Location"]))["Body"].read()
                stacks.append((key, yaml.load(body, Loader=_Loader)))
    return found


@pytest.fixture(scope="module")
def first(copy, s3_emulator) -> dict[str, str]:
    """What the unchanged copy uploads."""
    endpoint, s3 = s3_emulator
    return uploads(s3, package(copy, endpoint))


def test_sam_uploads_each_build_context_the_site_and_the_handlers(s3_emulator, first):
    endpoint, s3 = s3_emulator
    found = first
    parent = load(PARENT)
    contexts = {str(r["Metadata"]["Build"]["Context"]) for r in service_resources(parent).values()}
    layers = {key: uri for key, uri in found.items() if key.startswith("parent/")}
    assert all(uri.startswith(f"s3://{BUCKET}/") for uri in found.values()), found
    # Every service's context is a layer, and the layer holds its Dockerfile at the root, where the build
    # (build.yml's buildspec) runs `docker build .`.
    sources = {str(r["Properties"]["ContentUri"]) for r in parent["Resources"].values()
               if r.get("Type") == "AWS::Serverless::LayerVersion"}
    assert contexts <= sources, f"a service whose context SAM does not upload: {contexts - sources}"
    for key, uri in layers.items():
        names = zip_names(s3, uri)
        assert "Dockerfile" in names or "index.html" in names, (key, sorted(names)[:20])
    assert any("index.html" in zip_names(s3, uri) for uri in layers.values()), "the site is not uploaded"
    functions = {key: uri for key, uri in found.items() if not key.startswith("parent/")}
    assert functions, "no custom resource function in the nested templates"
    for key, uri in functions.items():
        names = zip_names(s3, uri)
        assert {"custom_resource.py"} <= names, (key, sorted(names))


def test_a_changed_context_is_a_new_upload_and_an_unchanged_one_is_not(copy, s3_emulator, first):
    """A deploy after changing one file of app/ uploads app/ again under a new key (a new layer version: the
    image-build resource's SourceLayerArn changes, the image is built), and leaves every other upload, the site
    and the handlers, where it was: their folders did not change, so neither did their keys or their resources
    (nothing else is rebuilt or republished)."""
    endpoint, s3 = s3_emulator
    before = first
    (copy / "app" / "api" / "health.py").write_text((copy / "app" / "api" / "health.py").read_text() + "\n# changed\n")
    after = uploads(s3, package(copy, endpoint))
    changed = {key for key in before if before[key] != after[key]}
    app_layers = {key for key in before if key.startswith("parent/")
                  and "Dockerfile" in zip_names(s3, before[key]) and "api/health.py" in zip_names(s3, before[key])}
    assert app_layers and changed == app_layers, (changed, app_layers)
    assert len(before) > len(app_layers)  # the site and the functions were there to stay unchanged
