"""The custom resources' Lambda code (the stack's functions' CodeUri): flat modules, the standard library and the runtime's boto3."""
