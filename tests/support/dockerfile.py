"""app/Dockerfile, parsed once (dockerfile_parse) for every test that reads it: the image tier
(tests/docker) and the contract with the task definition (tests/templates/test_contract.py)."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path

from dockerfile_parse import DockerfileParser

from local.stack import APP_DIR

DOCKERFILE = APP_DIR / "Dockerfile"


@dataclass(frozen=True)
class Stage:
    name: str | None  # its `AS` name, if it has one
    base: str  # what it is FROM: an image, or an earlier stage's name
    instructions: list[dict]  # after its FROM, comments included (dockerfile_parse's structure)


class Dockerfile:
    def __init__(self, path: Path):
        self.path = path
        self.parser = DockerfileParser(path=str(path))
        self.instructions: list[dict] = self.parser.structure

    @cached_property
    def envs(self) -> dict[str, str]:
        """The final stage's ENV, as dockerfile_parse resolves them."""
        return self.parser.envs

    @cached_property
    def stages(self) -> list[Stage]:
        out: list[Stage] = []
        for ins in self.instructions:
            if ins["instruction"] == "FROM":
                words = [w for w in ins["value"].split() if not w.startswith("--")]  # no --platform
                named = len(words) == 3 and words[1].upper() == "AS"
                out.append(Stage(words[-1] if named else None, words[0], []))
            elif out:
                out[-1].instructions.append(ins)
        return out

    def stage(self, name: str) -> Stage:
        (found,) = [s for s in self.stages if s.name == name]
        return found

    @property
    def final(self) -> Stage:
        """The image: the last stage."""
        return self.stages[-1]

    @property
    def base_image(self) -> str:
        """The image the `base` stage is FROM; the stages that build the image start FROM that stage."""
        return self.stage("base").base

    @property
    def frontend(self) -> str | None:
        """The image a `# syntax=` first line makes BuildKit pull, if there is one."""
        syntax = re.match(r"#\s*syntax\s*=\s*(\S+)", self.path.read_text().splitlines()[0])
        return syntax.group(1) if syntax else None

    def values(self, instruction: str, stage: Stage | None = None) -> list[str]:
        """The values of every `instruction` in `stage` (the whole file when None), in order."""
        return [ins["value"] for ins in (stage.instructions if stage else self.instructions)
                if ins["instruction"] == instruction]

    def one(self, instruction: str, stage: Stage | None = None) -> str:
        values = self.values(instruction, stage)
        where = "the final stage" if stage is self.final else f"stage {stage.name}" if stage else "the Dockerfile"
        assert len(values) == 1, f"expected one {instruction} in {where}, found {values}"
        return values[0]

    def exec_form(self, instruction: str, stage: Stage | None = None) -> list[str]:
        """The JSON array of the one CMD (or HEALTHCHECK's CMD) in `stage` (the whole file when None)."""
        value = self.one(instruction, stage)
        return json.loads(value.split("CMD", 1)[1] if instruction == "HEALTHCHECK" else value)

    def runs(self, stage: Stage) -> list[str]:
        """`stage`'s RUN commands, each on one line with single spaces."""
        return [re.sub(r"\s+", " ", value) for value in self.values("RUN", stage)]

    @property
    def volumes(self) -> set[str]:
        out: set[str] = set()
        for value in self.values("VOLUME"):
            value = value.strip()
            out |= set(json.loads(value) if value.startswith("[") else value.split())
        return out


@cache
def dockerfile() -> Dockerfile:
    """app/Dockerfile, parsed once per test session."""
    return Dockerfile(DOCKERFILE)
