-- common.lua - shared by scripts/bench/alexus.lua and alertmanager.lua:
-- unique alerts per request, status accounting, one result line.
--
-- Loaded with dofile() by each of them in every Lua state wrk creates (one
-- per thread for the running phase, one more for setup() and done()).
-- Configuration comes from the environment scripts/bench-ingest sets:
--   BENCH_BATCH  alerts per request (1 or 100)
--   BENCH_TOKEN  bearer token (alexus only)
--   BENCH_RUN    0-255, different for every wrk run against one server
--
-- Every alert of every request has a label value no other alert has:
-- bench_id = <2 hex: BENCH_RUN, a number the script gives each wrk run
-- of a server's lifetime><2 hex: wrk thread><8 hex: request counter of
-- that thread><4 hex: index in the batch>, 16 hex digits, also used as
-- the webhook's fingerprint.  Both servers key an alert on its label set
-- (Alexus's dedup fingerprint, Alertmanager's model.Fingerprint), so no
-- request is a duplicate of an earlier one: Alexus claims and appends
-- every alert, and Alertmanager stores and aggregates every alert.
--
-- Bodies are built from a template split at the placeholder: the fixed
-- pieces sit at odd indices of a table, the request's 12-hex prefix is
-- written into the even ones, and table.concat joins them in C.  That
-- keeps wrk's own CPU per request small and equal for both servers.
--
-- response() counts status codes per thread and keeps the first body of
-- a non-2xx answer; done() prints one line "BENCH key=value ..." that
-- scripts/bench-ingest parses, plus those codes and samples.

BENCH_BATCH = tonumber(os.getenv("BENCH_BATCH") or "1")
local PH = "@@ID@@"

-- The labels and annotations of alert number i (0-based), the same for
-- both servers.
function bench_labels(i)
	return string.format(
		'"labels":{"alertname":"BenchHighErrorRate","bench_id":"%s%04x",' ..
		'"cluster":"bench-1","instance":"10.0.%d.%d:8080","job":"checkout-api",' ..
		'"namespace":"payments","service":"checkout-api","severity":"critical",' ..
		'"team":"payments"},' ..
		'"annotations":{"summary":"checkout-api 5xx ratio above 5%% on 10.0.%d.%d:8080",' ..
		'"description":"5xx ratio is 7.3%% (threshold 5%%) for the last 10 minutes.",' ..
		'"runbook_url":"https://runbooks.example.com/checkout-api/high-error-rate"}',
		PH, i, math.floor(i / 256), i % 256, math.floor(i / 256), i % 256)
end

BENCH_STARTS_AT = "2025-06-10T08:15:30.512Z"
BENCH_GENERATOR = "http://prometheus.example.com:9090/graph?g0.expr=rate%28http_requests_total%5B5m%5D%29&g0.tab=1"

-- template: body text with PH where the request prefix goes.
local parts, counter = nil, 0
local run = tonumber(os.getenv("BENCH_RUN") or "0") % 256
tid = 0        -- globals: setup() sets tid in each thread's state,
body_len = 0   -- done() reads body_len back

function bench_template(template)
	parts = {}
	local pos = 1
	while true do
		local a, b = string.find(template, PH, pos, true)
		if a == nil then
			break
		end
		parts[#parts + 1] = string.sub(template, pos, a - 1)
		parts[#parts + 1] = ""
		pos = b + 1
	end
	parts[#parts + 1] = string.sub(template, pos)
end

function bench_body()
	local prefix = string.format("%02x%02x%08x", run, tid, counter)
	counter = counter + 1
	for k = 2, #parts, 2 do
		parts[k] = prefix
	end
	local body = table.concat(parts)
	body_len = #body
	return body
end

-- The method, path and headers of every request.
bench_path, bench_headers = "/", {}

function request()
	return wrk.format("POST", bench_path, bench_headers, bench_body())
end

codes, sample = {}, nil

function response(status, headers, body)
	codes[status] = (codes[status] or 0) + 1
	if (status < 200 or status > 299) and sample == nil then
		sample = status .. " " .. string.sub(body or "", 1, 300)
	end
end

local threads = {}

function setup(thread)
	thread:set("tid", #threads)
	threads[#threads + 1] = thread
end

function init(args)
	-- tid was set by setup() before init() runs.
	bench_init()
end

function done(summary, latency, requests)
	local all, non2xx, samples, blen = {}, 0, {}, 0
	for _, t in ipairs(threads) do
		blen = t:get("body_len") or blen
		for status, n in pairs(t:get("codes")) do
			all[status] = (all[status] or 0) + n
		end
		local s = t:get("sample")
		if s ~= nil then
			samples[#samples + 1] = s
		end
	end
	local list = {}
	for status, n in pairs(all) do
		if status < 200 or status > 299 then
			non2xx = non2xx + n
		end
		list[#list + 1] = status .. ":" .. n
	end
	table.sort(list)
	local e = summary.errors
	io.write(string.format(
		"BENCH requests=%d duration_us=%d non2xx=%d batch=%d p50_us=%d p90_us=%d " ..
		"p99_us=%d max_us=%d err_connect=%d err_read=%d err_write=%d err_timeout=%d " ..
		"body_bytes=%d codes=%s\n",
		summary.requests, summary.duration, non2xx, BENCH_BATCH,
		latency:percentile(50), latency:percentile(90), latency:percentile(99),
		latency.max, e.connect, e.read, e.write, e.timeout, blen,
		#list > 0 and table.concat(list, ",") or "none"))
	for _, s in ipairs(samples) do
		io.write("BENCH_SAMPLE " .. string.gsub(s, "\n", " ") .. "\n")
	end
end
