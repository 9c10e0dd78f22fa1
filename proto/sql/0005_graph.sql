-- 0005_graph.sql - the knowledge graph's Postgres backend: configuration
-- items and their relations, Issues (incidents and known errors) linked to
-- items, knowledge documents, and the per-tenant change stamp that keeps
-- the in-memory vector indexes of the daemons current.
--
-- Read and written through common/graph.h (common/graph_pg.c), and by
-- `alexusctl cmdb import`, always as alexus_app in a tenant-scoped
-- transaction.  Tables follow 0001/0003: tenant_id references tenants, the
-- primary key starts with tenant_id, foreign keys carry tenant_id (an edge
-- cannot point at another tenant's item even through the owner role), RLS
-- ENABLEd and FORCEd with the one tenant_isolation policy on app_tenant().
--
-- Search: each searchable table has a generated tsvector column (english
-- configuration, title/name weighted A) with a GIN index, for
-- websearch_to_tsquery + ts_rank; and a nullable 1536-dimension embedding
-- with the name of the embedder that made it (common/embed.h).  Vectors
-- are never compared in SQL (issue 4 measured 2.2 s for 5,000 rows): the
-- daemons load them into memory (common/vec.c) and compare there, and only
-- vectors with the same embedder name are ever compared.
--
-- Change stamps: the in-memory index must learn of every change, whichever
-- process made it.  Every write to an embedded table takes the tenant's
-- next stamp from graph_versions (a BEFORE trigger) and stores it in the
-- row's "changed" column; a reader remembers the stamp it loaded up to and
-- fetches only rows with a larger one.  The stamp is taken by updating the
-- tenant's graph_versions row, whose lock is held until commit, so one
-- tenant's writers take stamps in commit order: once a reader sees stamp V
-- committed, every row stamped <= V is committed too, and nothing is
-- missed.  One stamp serves a whole transaction (remembered in the
-- transaction-local setting alexus.graph_stamp), so a bulk import updates
-- the row once, not once per item.  A DELETE bumps "deletes", which tells
-- readers to reload the tenant from scratch (deletes are rare: no daemon
-- is granted DELETE here; the owner may delete).

CREATE TABLE graph_versions (
	tenant_id  text NOT NULL REFERENCES tenants(id),
	version    bigint NOT NULL DEFAULT 0,   -- the last stamp handed out
	deletes    bigint NOT NULL DEFAULT 0,   -- rows deleted so far
	PRIMARY KEY (tenant_id)
);

-- Configuration items: anything a CMDB knows (service, host, database,
-- queue, team...).  id is the tenant's own identifier (a CMDB key, a
-- Kubernetes object path...), type is free-form lower case.
CREATE TABLE configuration_items (
	tenant_id   text NOT NULL REFERENCES tenants(id),
	id          text NOT NULL CHECK (length(id) BETWEEN 1 AND 256 AND id !~ '[[:cntrl:]]'),
	type        text NOT NULL CHECK (type ~ '^[a-z0-9][a-z0-9_.-]{0,62}$'),
	name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 1024),
	attributes  jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(attributes) = 'object'),
	search      tsvector GENERATED ALWAYS AS (
	              setweight(to_tsvector('english', name), 'A') ||
	              setweight(to_tsvector('english', replace(type, '_', ' ')), 'B') ||
	              setweight(jsonb_to_tsvector('english', attributes, '["string"]'), 'C')) STORED,
	embedding   real[] CHECK (embedding IS NULL OR (array_ndims(embedding) = 1 AND
	              array_length(embedding, 1) = 1536 AND array_position(embedding, NULL) IS NULL)),
	embedder    text,
	changed     bigint NOT NULL DEFAULT 0,  -- graph_versions stamp of the last write
	created_at  timestamptz NOT NULL DEFAULT now(),
	updated_at  timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, id),
	CHECK ((embedding IS NULL) = (embedder IS NULL))
);
CREATE INDEX configuration_items_search ON configuration_items USING gin (search);
CREATE INDEX configuration_items_changed ON configuration_items (tenant_id, changed);

-- Directed edges: from_id <kind> to_id ("checkout depends_on payments-db",
-- "pod runs_on node", "service owned_by team").  The kinds in use are
-- depends_on, runs_on, owned_by, part_of, connects_to; others may be added
-- without a migration, in the same shape.
CREATE TABLE ci_relations (
	tenant_id   text NOT NULL REFERENCES tenants(id),
	from_id     text NOT NULL,
	kind        text NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_]{0,62}$'),
	to_id       text NOT NULL,
	created_at  timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, from_id, kind, to_id),
	FOREIGN KEY (tenant_id, from_id) REFERENCES configuration_items (tenant_id, id) ON DELETE CASCADE,
	FOREIGN KEY (tenant_id, to_id) REFERENCES configuration_items (tenant_id, id) ON DELETE CASCADE,
	CHECK (from_id <> to_id)
);
-- The primary key serves outgoing walks; this one incoming walks.
CREATE INDEX ci_relations_to ON ci_relations (tenant_id, to_id);

-- Issues: past incidents and known errors, what they looked like and what
-- fixed them; the IncidentAgent retrieves over them.
CREATE TABLE graph_issues (
	tenant_id   text NOT NULL REFERENCES tenants(id),
	id          text NOT NULL CHECK (length(id) BETWEEN 1 AND 256 AND id !~ '[[:cntrl:]]'),
	kind        text NOT NULL CHECK (kind IN ('incident', 'known_error')),
	title       text NOT NULL CHECK (length(title) BETWEEN 1 AND 1024),
	body        text NOT NULL DEFAULT '',
	fix         text NOT NULL DEFAULT '',
	search      tsvector GENERATED ALWAYS AS (
	              setweight(to_tsvector('english', title), 'A') ||
	              setweight(to_tsvector('english', body), 'B') ||
	              setweight(to_tsvector('english', fix), 'C')) STORED,
	embedding   real[] CHECK (embedding IS NULL OR (array_ndims(embedding) = 1 AND
	              array_length(embedding, 1) = 1536 AND array_position(embedding, NULL) IS NULL)),
	embedder    text,
	changed     bigint NOT NULL DEFAULT 0,
	created_at  timestamptz NOT NULL DEFAULT now(),
	updated_at  timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, id),
	CHECK ((embedding IS NULL) = (embedder IS NULL))
);
CREATE INDEX graph_issues_search ON graph_issues USING gin (search);
CREATE INDEX graph_issues_changed ON graph_issues (tenant_id, changed);

-- Which items an Issue touched.
CREATE TABLE issue_items (
	tenant_id  text NOT NULL REFERENCES tenants(id),
	issue_id   text NOT NULL,
	item_id    text NOT NULL,
	PRIMARY KEY (tenant_id, issue_id, item_id),
	FOREIGN KEY (tenant_id, issue_id) REFERENCES graph_issues (tenant_id, id) ON DELETE CASCADE,
	FOREIGN KEY (tenant_id, item_id) REFERENCES configuration_items (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX issue_items_item ON issue_items (tenant_id, item_id);

-- Knowledge documents: runbooks, postmortems, the knowledge files of
-- tenant_rag_settings, one row per document (or per section of one).
CREATE TABLE knowledge_docs (
	tenant_id   text NOT NULL REFERENCES tenants(id),
	id          text NOT NULL CHECK (length(id) BETWEEN 1 AND 256 AND id !~ '[[:cntrl:]]'),
	title       text NOT NULL CHECK (length(title) BETWEEN 1 AND 1024),
	body        text NOT NULL DEFAULT '',
	source      text NOT NULL DEFAULT '',   -- where it came from: a file name, a URL
	search      tsvector GENERATED ALWAYS AS (
	              setweight(to_tsvector('english', title), 'A') ||
	              setweight(to_tsvector('english', body), 'B')) STORED,
	embedding   real[] CHECK (embedding IS NULL OR (array_ndims(embedding) = 1 AND
	              array_length(embedding, 1) = 1536 AND array_position(embedding, NULL) IS NULL)),
	embedder    text,
	changed     bigint NOT NULL DEFAULT 0,
	created_at  timestamptz NOT NULL DEFAULT now(),
	updated_at  timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant_id, id),
	CHECK ((embedding IS NULL) = (embedder IS NULL))
);
CREATE INDEX knowledge_docs_search ON knowledge_docs USING gin (search);
CREATE INDEX knowledge_docs_changed ON knowledge_docs (tenant_id, changed);

-- Stamp a written row (see the top of this file).  Runs as the writer, so
-- RLS on graph_versions applies: a writer can only stamp its own tenant.
CREATE FUNCTION graph_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	cur  text := current_setting('alexus.graph_stamp', true);
	v    bigint;
BEGIN
	IF cur IS NOT NULL AND cur <> '' AND split_part(cur, ' ', 1) = NEW.tenant_id THEN
		NEW.changed := split_part(cur, ' ', 2)::bigint;
	ELSE
		INSERT INTO graph_versions AS g (tenant_id, version) VALUES (NEW.tenant_id, 1)
		ON CONFLICT (tenant_id) DO UPDATE SET version = g.version + 1
		RETURNING g.version INTO v;
		PERFORM set_config('alexus.graph_stamp', NEW.tenant_id || ' ' || v, true);
		NEW.changed := v;
	END IF;
	NEW.updated_at := now();
	RETURN NEW;
END
$$;

CREATE FUNCTION graph_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO graph_versions AS g (tenant_id, version, deletes) VALUES (OLD.tenant_id, 1, 1)
	ON CONFLICT (tenant_id) DO UPDATE SET version = g.version + 1, deletes = g.deletes + 1;
	RETURN OLD;
END
$$;

DO $$
DECLARE
	tbl text;
BEGIN
	FOREACH tbl IN ARRAY ARRAY['configuration_items', 'graph_issues', 'knowledge_docs'] LOOP
		EXECUTE format('CREATE TRIGGER graph_stamp BEFORE INSERT OR UPDATE ON %I '
		               'FOR EACH ROW EXECUTE FUNCTION graph_stamp()', tbl);
		EXECUTE format('CREATE TRIGGER graph_deleted AFTER DELETE ON %I '
		               'FOR EACH ROW EXECUTE FUNCTION graph_deleted()', tbl);
	END LOOP;
	FOREACH tbl IN ARRAY ARRAY['graph_versions', 'configuration_items', 'ci_relations',
	                           'graph_issues', 'issue_items', 'knowledge_docs'] LOOP
		EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', tbl);
		EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', tbl);
		EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = app_tenant()) '
		               'WITH CHECK (tenant_id = app_tenant())', tbl);
	END LOOP;
END
$$;

-- Upserts only: nothing here is deleted by a daemon (see above).
GRANT SELECT, INSERT, UPDATE ON graph_versions, configuration_items, ci_relations,
	graph_issues, issue_items, knowledge_docs TO alexus_app;
GRANT EXECUTE ON FUNCTION graph_stamp(), graph_deleted() TO alexus_app;
