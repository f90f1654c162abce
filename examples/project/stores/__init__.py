"""The project's analysis package (imported by main.py and, on the workers, by its tasks)."""
