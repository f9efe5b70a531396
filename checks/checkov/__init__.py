"""checkov custom checks for ECS on CloudFormation, which checkov's own set covers thinly.
Loaded with `checkov --external-checks-dir checks/checkov`."""
from glob import glob
from os.path import basename, dirname, join

__all__ = [basename(f)[:-3] for f in glob(join(dirname(__file__), "*.py")) if not f.endswith("__init__.py")]
