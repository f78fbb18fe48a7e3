"""Open-data exports of a community's register, and one registration as an official record (issue 7)."""
