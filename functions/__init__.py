"""The custom resources' Lambda code: one directory, the CodeUri of every function (flat modules)."""
