"""Layer 2: generated files, saved atomically with manifests and loaded with checks; the code digest
that says which code made them. Imports ``helpers.core`` and the students' library (to rebuild models)."""
