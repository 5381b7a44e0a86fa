-- Data-only fix: nothing to undo.
SELECT 1;
