"""Lesson workloads built on the reference core: data sets, tasks, the four applications, the BPTT lab runs."""
