"""Helpers shared by the tests. Conftest files hold fixtures only; import helpers from here."""
