"""No tracked file in a folder `sam deploy` uploads is a symbolic link, and no such folder lies outside the
repository. `sam package` zips each packaged folder following links and stores the target's content
(https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-cli-command-reference-sam-package.html;
samcli/lib/package/utils.py walks with followlinks=True), so a link committed in frontend/, functions/ or a
build context would upload whatever it points to on the deploying machine, while the local builders skip
it. The folders are read from the templates (blueprint/templates.py packaged_folders: every layer's
ContentUri, every function's Code or CodeUri, in parent.yml and each template it nests, and each service's
build Context), so a folder a fork adds is covered without an edit here. `make preflight` checks the same
folders on disk, untracked files included (tests/ops/test_deploy.py)."""
from __future__ import annotations

import subprocess
from pathlib import Path

from blueprint.templates import ROOT, links_in, packaged_folders

LINK_MODE = "120000"  # git's mode for a symbolic link


def tracked_links(folder: Path, root: Path = ROOT) -> list[str]:
    listed = subprocess.run(["git", "ls-files", "-s", "--", str(folder)], cwd=root, capture_output=True,
                            text=True, check=True).stdout.splitlines()
    return [line.split("\t", 1)[1] for line in listed if line.startswith(LINK_MODE + " ")]


def test_the_folders_sam_deploy_uploads_are_read_from_the_templates():
    folders = {str(f.relative_to(ROOT)) for f in packaged_folders()}
    assert {"frontend", "functions", "app"} <= folders  # the site's layer, the publisher's Code, the build context


def test_no_tracked_file_in_an_uploaded_folder_is_a_link_or_outside_the_repository():
    for folder in packaged_folders():
        assert tracked_links(folder) == [], f"{folder.relative_to(ROOT)}: sam deploy would upload the targets"
        assert links_in(folder) == [], folder


def test_the_checks_see_a_committed_link_and_a_folder_outside(tmp_path):
    repo = tmp_path / "repo"
    (repo / "site").mkdir(parents=True)
    (repo / "site" / "index.html").write_text("<p>hi</p>")
    (repo / "site" / "passwd.txt").symlink_to("/etc/passwd")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "add", "."], check=True)
    assert tracked_links(repo / "site", repo) == ["site/passwd.txt"]
    assert links_in(repo / "site", repo) == ["site/passwd.txt"]
    assert links_in(tmp_path, repo) == [".. (outside the repository)"]
    (repo / "linked").symlink_to(repo / "site")
    assert links_in(repo / "linked", repo)[0] == "linked"
