"""Recording training runs into Neo4j: the :class:`~.recorder.Recorder`, spool replay, checkpoint
ingest, and the Lightning and Hugging Face callbacks (imported only when used)."""
