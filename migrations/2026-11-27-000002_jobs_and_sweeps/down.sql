DROP TABLE IF EXISTS sweep_outcomes, sweep_runs, task_records;
