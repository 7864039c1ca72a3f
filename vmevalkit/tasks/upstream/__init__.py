"""Verifiers for tasks made by the public VMEvalKit (``vmevalkit tasks import --format vmevalkit``).

Upstream metadata does not carry what our verifiers read a task's rules from: a maze has only its size,
start, end and solution length (no walls), a sudoku only flat ``puzzle_array`` / ``solution_array`` lists.
What is missing is in the task's ``first_frame.png``, so these verifiers read it from there: the grid's
lines, the walls, the markers, and the looks of every cell (cut from the picture itself, so they match
upstream's matplotlib rendering without redrawing it). Our domains dispatch to them on the metadata's
shape (see ``MazeDomain.verifier`` and ``SudokuDomain.verifier``).
"""
