"""functions/custom_resource.py: the answer CloudFormation reads
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-responses.html)."""
from __future__ import annotations

import json

import custom_resource


def test_a_long_reason_is_cut_so_the_body_stays_under_4_kb(cloudformation, event):
    custom_resource.send(event("Create", {}), "FAILED", "é line\n" * 2000, "id")
    (received,) = cloudformation.received
    assert len(json.dumps(received.body).encode()) <= 4096 and received.body["Reason"].endswith(" ...")
    assert "\n" not in received.body["Reason"] and received.headers["Content-Type"] == ""


def test_an_unreachable_url_is_logged_not_raised(capsys):
    custom_resource.send({"ResponseURL": "http://127.0.0.1:9/nowhere", "LogicalResourceId": "Site"}, "SUCCESS", "",
                         "id")
    custom_resource.send({}, "SUCCESS", "", "id")
    assert capsys.readouterr().out.count("could not answer CloudFormation (SUCCESS)") == 2
