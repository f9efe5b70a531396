"""`make bench`: the runner (run.py), the DynamoDB stand-in (dynamodb.py), the reference apps, the profile."""
