"""What one captured epoch stores (:mod:`.epoch`), how it is built from a snapshot (:mod:`.build`),
and its file format on disk while Neo4j is away (:mod:`.spool`). No torch, no driver."""
