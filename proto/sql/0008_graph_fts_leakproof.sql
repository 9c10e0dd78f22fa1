-- 0008_graph_fts_leakproof.sql - let the full-text GIN indexes of the
-- knowledge graph (0005) serve searches under row-level security.
--
-- Under RLS a query's own conditions are evaluated after the policy's
-- filter unless their functions are LEAKPROOF, and only conditions
-- evaluated first can use an index.  ts_match_vq (the @@ of tsvector and
-- tsquery) is not marked, so every full-text search read all of a
-- tenant's rows: about 100 ms per 100,000 items (docs/knowledge-graph.md).
-- It has no side effects, and the errors it can raise depend on the query,
-- not on the row, so marking it leaks nothing of rows a policy hides.
-- Marking takes a superuser; under any other owner this only warns, and
-- search still works, slower.
DO $$
BEGIN
	IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
		ALTER FUNCTION pg_catalog.ts_match_vq(tsvector, tsquery) LEAKPROOF;
	ELSE
		RAISE WARNING 'ts_match_vq is not LEAKPROOF and % is not a superuser: full-text '
			'search under row-level security reads every row of a tenant; see '
			'docs/knowledge-graph.md', current_user;
	END IF;
END
$$;
