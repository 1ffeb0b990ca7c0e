"""Studies on top of the rest: the digits data and small models, the demo, run reports and plots,
and the papers' ensemble experiment."""
