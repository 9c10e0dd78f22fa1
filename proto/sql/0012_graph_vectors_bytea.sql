-- 0012_graph_vectors_bytea.sql - graph embeddings as bytea, not real[].
--
-- The first hybrid search of a tenant loads all its vectors into the
-- process-wide cache (common/graph_pg.c).  As real[] the server sends each
-- row through array_send, element by element (1,536 calls of float4send,
-- a length word per element): 5.6 s for 100,000 items (docs/benchmarks.md,
-- "Data layer").  As bytea a row is sent as the stored bytes.
--
-- Format: 1,536 IEEE-754 float32 values, little-endian, 6,144 bytes; the
-- order the platforms we run on hold them in memory, so decoding is one
-- copy.  NULL still means "no vector", with embedder NULL too (the table
-- CHECK of 0005 is kept: it reads as well for bytea).
--
-- Existing rows are converted in place: float4send gives each value's
-- four bytes big-endian, reversed here, so every vector keeps its exact
-- bits (an unchanged re-import still compares equal and writes nothing).
-- graph_vector_real(bytea) turns one back into real[] for SQL that wants
-- to compute on it (the SQL peer of bench_graph, ad hoc queries); the
-- service itself never does (vector search runs in C).
CREATE FUNCTION graph_vector_le(a real[]) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
	SELECT string_agg(substring(b FROM 4 FOR 1) || substring(b FROM 3 FOR 1) ||
			  substring(b FROM 2 FOR 1) || substring(b FROM 1 FOR 1), ''::bytea
			  ORDER BY n)
	FROM unnest(a) WITH ORDINALITY AS t(x, n), LATERAL float4send(t.x) AS b
$$;

-- Finite values only (embeddings are; 0005 never allowed NULL elements and
-- the writers never send NaN or infinity).
CREATE FUNCTION graph_vector_real(v bytea) RETURNS real[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
	SELECT array_agg((CASE WHEN s = 1 THEN -1.0::float8 ELSE 1.0::float8 END *
			  CASE WHEN e = 0 THEN m::float8 * 2.0::float8 ^ -149
			       ELSE (1.0::float8 + m::float8 / 8388608.0::float8) *
				    2.0::float8 ^ (e - 127) END)::real ORDER BY i)
	FROM (SELECT i, get_byte(v, i * 4 + 3) >> 7 AS s,
		     ((get_byte(v, i * 4 + 3) & 127) << 1) | (get_byte(v, i * 4 + 2) >> 7) AS e,
		     ((get_byte(v, i * 4 + 2) & 127) << 16) | (get_byte(v, i * 4 + 1) << 8) |
		     get_byte(v, i * 4) AS m
	      FROM generate_series(0, octet_length(v) / 4 - 1) AS i) AS f
$$;

ALTER TABLE configuration_items DROP CONSTRAINT configuration_items_embedding_check;
ALTER TABLE configuration_items ALTER COLUMN embedding TYPE bytea
	USING graph_vector_le(embedding);
ALTER TABLE configuration_items ADD CONSTRAINT configuration_items_embedding_check
	CHECK (embedding IS NULL OR octet_length(embedding) = 6144);

ALTER TABLE graph_issues DROP CONSTRAINT graph_issues_embedding_check;
ALTER TABLE graph_issues ALTER COLUMN embedding TYPE bytea USING graph_vector_le(embedding);
ALTER TABLE graph_issues ADD CONSTRAINT graph_issues_embedding_check
	CHECK (embedding IS NULL OR octet_length(embedding) = 6144);

ALTER TABLE knowledge_docs DROP CONSTRAINT knowledge_docs_embedding_check;
ALTER TABLE knowledge_docs ALTER COLUMN embedding TYPE bytea USING graph_vector_le(embedding);
ALTER TABLE knowledge_docs ADD CONSTRAINT knowledge_docs_embedding_check
	CHECK (embedding IS NULL OR octet_length(embedding) = 6144);

