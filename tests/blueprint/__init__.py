"""Tests that pin the blueprint's own choices, not behaviour a user sees.
A failure here says: you changed a choice of the blueprint; change the test with it."""
