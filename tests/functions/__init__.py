"""Tests of the custom resources' Lambda code (functions/) against moto."""
