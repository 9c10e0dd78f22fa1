-- 0021: act resumes decided approvals whose action never moved on.
--
-- A decision (ingest's POST /v1/approvals/{id}, or a signed link) commits
-- the approval, then re-appends the action to alexus:actions so act runs
-- the policy again with the decision.  If that append fails (Redis down
-- at that moment) the action would wait in 'pending' for ever.  act's
-- periodic jobs therefore look for remediate actions still pending whose
-- approval was decided a while ago (act/expire.c, act_resume_decided) and
-- append them once more; act's handling is idempotent by action id.
--
-- 1. actions_remediate_pending: the pending remediate actions (those
--    waiting for a human, and those in flight), a small set per tenant.
--    Partial, so no foreign-key check can prefer it to the key (0014).
-- 2. jobs_due_tenants() gains the condition, as one probe of that index
--    per tenant and a key probe of approvals per pending action.

CREATE INDEX actions_remediate_pending ON actions (tenant_id, id)
	WHERE status = 'pending' AND type = 'remediate';

CREATE OR REPLACE FUNCTION jobs_due_tenants(p_after text, p_limit integer) RETURNS SETOF text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles
	               WHERE rolname = current_user AND (rolsuper OR rolbypassrls)) THEN
		RAISE EXCEPTION 'jobs_due_tenants(): its owner % is subject to row-level security '
		                'and would see no work', current_user
			USING ERRCODE = '42501';
	END IF;
	RETURN QUERY SELECT t.id FROM public.tenants t
	WHERE t.disabled_at IS NULL AND (p_after IS NULL OR t.id > p_after) AND (
		EXISTS (SELECT 1 FROM public.incidents i
		        WHERE i.tenant_id = t.id AND i.gate_pending)
		OR EXISTS (SELECT 1 FROM public.resolutions r
		           WHERE r.tenant_id = t.id AND r.state = 'pending' AND r.verify_after <= now())
		OR EXISTS (SELECT 1 FROM public.incidents i
		           WHERE i.tenant_id = t.id AND i.status = 'open' AND i.acknowledged_at IS NULL
		             AND i.escalate_at IS NOT NULL AND i.escalate_at <= now())
		OR EXISTS (SELECT 1 FROM public.approvals a
		           WHERE a.tenant_id = t.id AND a.decision IS NULL AND a.expires_at <= now())
		OR EXISTS (SELECT 1 FROM public.actions x
		           JOIN public.approvals a ON a.tenant_id = x.tenant_id AND a.action_id = x.id
		           WHERE x.tenant_id = t.id AND x.status = 'pending' AND x.type = 'remediate'
		             AND a.decision IN ('approved', 'rejected')
		             AND a.decided_at <= now() - interval '60 seconds'))
	ORDER BY t.id LIMIT p_limit;
END
$$;
REVOKE ALL ON FUNCTION jobs_due_tenants(text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION jobs_due_tenants(text, integer) TO alexus_app;
