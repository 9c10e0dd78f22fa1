-- alertmanager.lua - wrk script: POST /api/v2/alerts to Prometheus
-- Alertmanager with a JSON array of BENCH_BATCH alerts: the same labels,
-- annotations, startsAt and generatorURL as alexus.lua sends in its
-- webhook, each alert unique (see common.lua).  Run by scripts/bench-ingest.
dofile((os.getenv("BENCH_LUA_DIR") or "scripts/bench") .. "/common.lua")

function bench_init()
	local alerts = {}
	for i = 0, BENCH_BATCH - 1 do
		alerts[#alerts + 1] = string.format('{%s,"startsAt":"%s","generatorURL":"%s"}',
						    bench_labels(i), BENCH_STARTS_AT,
						    BENCH_GENERATOR)
	end
	bench_template("[" .. table.concat(alerts, ",") .. "]")
	bench_path = "/api/v2/alerts"
	bench_headers = { ["Content-Type"] = "application/json" }
end
