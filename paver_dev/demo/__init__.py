"""``paver demo``: the whole job on the embedded local AWS, stage by stage, with a report."""
