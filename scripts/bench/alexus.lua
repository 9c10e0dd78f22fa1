-- alexus.lua - wrk script: POST /v1/webhooks/alertmanager to alexus-ingest
-- with an Alertmanager webhook (version 4) of BENCH_BATCH alerts, each
-- unique (see common.lua), Bearer BENCH_TOKEN.  Run by scripts/bench-ingest.
dofile((os.getenv("BENCH_LUA_DIR") or "scripts/bench") .. "/common.lua")

function bench_init()
	local alerts = {}
	for i = 0, BENCH_BATCH - 1 do
		alerts[#alerts + 1] = string.format(
			'{"status":"firing",%s,"startsAt":"%s","endsAt":"0001-01-01T00:00:00Z",' ..
			'"generatorURL":"%s","fingerprint":"@@ID@@%04x"}',
			bench_labels(i), BENCH_STARTS_AT, BENCH_GENERATOR, i)
	end
	bench_template(
		'{"receiver":"alexus","status":"firing","alerts":[' .. table.concat(alerts, ",") ..
		'],"groupLabels":{"alertname":"BenchHighErrorRate"},' ..
		'"commonLabels":{"alertname":"BenchHighErrorRate","cluster":"bench-1",' ..
		'"job":"checkout-api","namespace":"payments","service":"checkout-api",' ..
		'"severity":"critical","team":"payments"},' ..
		'"commonAnnotations":{"runbook_url":"https://runbooks.example.com/checkout-api/high-error-rate"},' ..
		'"externalURL":"http://127.0.0.1:9093","version":"4",' ..
		'"groupKey":"{}:{alertname=\\"BenchHighErrorRate\\"}","truncatedAlerts":0}')
	bench_path = "/v1/webhooks/alertmanager"
	bench_headers = {
		["Content-Type"] = "application/json",
		["Authorization"] = "Bearer " .. (os.getenv("BENCH_TOKEN") or ""),
	}
end
