"""The Neo4j store: the driver seam (:mod:`.runner`), the Cypher library (:mod:`.library`), the
read API (:mod:`.graph`), the writer, in-database aggregation, and Neo4j Browser. Never torch."""
