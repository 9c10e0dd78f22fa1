-- 0013_incident_parent_ci.sql - find an incident's parent by machine.
--
-- reason makes a new incident the child (incidents.parent_id, 0010) of the
-- oldest open incident of another group that has a firing alert on the
-- same machine: the alert's host, else its Kubernetes "node" label
-- (ax_group_root_ci in common/group.c).  It asks once per batch, per
-- machine the batch names (reason/handle.c, Q_PARENT).  Without these
-- indexes that read filtered every alert of the tenant; partial on firing
-- alerts that name a machine, they stay the size of what is firing now,
-- and an alert without host or node label (most of a service storm) costs
-- no index write.
CREATE INDEX alerts_firing_host ON alerts (tenant_id, host)
	WHERE status = 'firing' AND host IS NOT NULL;
CREATE INDEX alerts_firing_node ON alerts (tenant_id, (labels->>'node'))
	WHERE status = 'firing' AND labels ? 'node';
