"""Layer 6, the hand-in: the submission archive a grader receives, and the older layouts it still reads
(``legacy``). Nothing below imports it."""
