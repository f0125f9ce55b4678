"""Instructor tools: the student release (``python -m instructor.release``) and its hidden tests."""
