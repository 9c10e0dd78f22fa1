// dashboard.js - the dashboard end to end in headless Chromium (Debian's
// /usr/bin/chromium, driven by playwright-core), against the three real
// daemons on the test stack.  Run by tests/e2e/dashboard.sh.
//
//   1. An operator signs in by pasting a token; the live feed connects.
//   2. A webhook sent now (a pod not ready, through ingest) shows up in
//      the open incident list without a reload.
//   3. On the incident page the four stages appear with their provider,
//      the proposed restart_pod waits for approval; clicking Approve
//      executes it: the stand-in Kubernetes API server gets exactly one
//      DELETE of that pod, and the page shows the action succeeded.
//   4. A viewer's page shows no Approve button.
//
// Every wait is on a condition with a deadline.  Exit 0 pass, 1 fail.
"use strict";

const { chromium } = require("playwright-core");
const { spawn, execFileSync } = require("child_process");
const http = require("http");
const net = require("net");
const fs = require("fs");
const path = require("path");

const ROOT = path.resolve(__dirname, "../..");
const BIN = process.env.ALEXUS_BIN_DIR || path.join(ROOT, "bin");
const LOGS = path.join(ROOT, ".run/test-logs");
const WAIT = 20000;
const POD = "checkout-api-7d9f8b6c5-p9wq1";

const procs = [];
let browser = null;

function log(...a) { console.log("dashboard:", ...a); }

function freePort() {
	return new Promise((resolve, reject) => {
		const s = net.createServer();
		s.unref();
		s.on("error", reject);
		s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => resolve(p)); });
	});
}

function ctl(...args) {
	return execFileSync(path.join(BIN, "alexusctl"), args, { encoding: "utf8" });
}

function psql(sql) {
	execFileSync("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql], { encoding: "utf8" });
}

function daemon(name, env) {
	fs.mkdirSync(LOGS, { recursive: true });
	const out = fs.openSync(path.join(LOGS, "e2e.dashboard." + name + ".log"), "w");
	const p = spawn(path.join(BIN, name), [], { env: { ...process.env, ...env },
		stdio: ["ignore", out, out] });
	procs.push(p);
	return p;
}

async function until(what, fn, ms = WAIT) {
	const end = Date.now() + ms;
	for (;;) {
		const v = await fn();
		if (v) return v;
		if (Date.now() > end) throw new Error("timed out waiting for " + what);
		await new Promise((r) => setTimeout(r, 50));
	}
}

async function main() {
	const tenant = "dash" + process.pid;
	const ingestPort = await freePort();
	const base = "http://127.0.0.1:" + ingestPort;

	// The stand-in Kubernetes API server: records each request, answers 200.
	const k8s = [];
	const apiserver = http.createServer((req, res) => {
		k8s.push({ method: req.method, url: req.url });
		req.resume();
		req.on("end", () => {
			res.writeHead(200, { "Content-Type": "application/json" });
			res.end(JSON.stringify({ kind: "Status", apiVersion: "v1", status: "Success" }));
		});
	});
	await new Promise((r) => apiserver.listen(0, "127.0.0.1", r));

	ctl("tenant", "create", tenant);
	psql("INSERT INTO tenant_settings (tenant_id, autonomy, allowed_namespaces, execute_threshold, " +
	     "clarify_threshold) VALUES ('" + tenant + "', 'approval', '{payments}', 0.1, 0.05) " +
	     "ON CONFLICT (tenant_id) DO UPDATE SET autonomy = EXCLUDED.autonomy, " +
	     "allowed_namespaces = EXCLUDED.allowed_namespaces, " +
	     "execute_threshold = EXCLUDED.execute_threshold, " +
	     "clarify_threshold = EXCLUDED.clarify_threshold");
	const last = (s) => s.trim().split("\n").pop();
	const operator = last(ctl("token", "mint", "--tenant", tenant, "--ttl", "600", "--role", "operator"));
	const viewer = last(ctl("token", "mint", "--tenant", tenant, "--ttl", "600", "--role", "viewer"));

	daemon("alexus-ingest", { ALEXUS_INGEST_PORT: String(ingestPort) });
	daemon("alexus-reason", { ALEXUS_REASON_AGENTS: "1", ALEXUS_BLOCK_MS: "100",
		ALEXUS_CONSUMER: "reason-dashboard" });
	daemon("alexus-act", { ALEXUS_BLOCK_MS: "100", ALEXUS_CONSUMER: "act-dashboard",
		ALEXUS_K8S_API: "http://127.0.0.1:" + apiserver.address().port,
		ALEXUS_PUBLIC_URL: base });
	await until("ingest ready", async () => {
		try { return (await fetch(base + "/readyz")).status === 200; } catch (e) { return false; }
	});

	browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
		headless: true, args: ["--no-sandbox"] });
	const page = await browser.newPage();
	const problems = [];
	page.on("pageerror", (e) => problems.push("page error: " + e.message));
	page.on("console", (m) => { if (m.type() === "error") problems.push("console: " + m.text()); });

	// 1. sign in
	await page.goto(base + "/ui/");
	await page.fill("#token", operator);
	await page.click("#login-form button[type=submit]");
	await page.waitForSelector("#list:not([hidden])", { timeout: WAIT });
	await page.waitForSelector("#live.on", { timeout: WAIT });
	if ((await page.textContent("#who")).indexOf(tenant) < 0) throw new Error("tenant not shown");
	if (await page.$$eval("#incidents tbody tr", (r) => r.length) !== 0)
		throw new Error("a new tenant already has incidents");

	// 2. a webhook now: the row appears in the open page, no reload
	await page.evaluate(() => { window.__alexusMark = 42; });
	const hook = fs.readFileSync(path.join(__dirname, "pod-not-ready.json"));
	const r = await fetch(base + "/v1/webhooks/alertmanager", { method: "POST", body: hook,
		headers: { "Content-Type": "application/json", Authorization: "Bearer " + operator } });
	if (r.status !== 202) throw new Error("webhook answered " + r.status + ": " + await r.text());
	await page.waitForSelector("#incidents tbody tr.clickable", { timeout: WAIT });
	if (await page.evaluate(() => window.__alexusMark) !== 42)
		throw new Error("the page reloaded to show the incident");
	const title = await page.textContent("#incidents tbody tr.clickable td:nth-child(2)");
	log("incident appeared live:", title);

	// 3. the incident page: stages, then approve from the page
	await page.click("#incidents tbody tr.clickable");
	await page.waitForSelector("#incident:not([hidden])", { timeout: WAIT });
	await page.waitForSelector("#actions button.approve", { timeout: WAIT });
	const stages = await page.$$eval("#timeline li", (l) => l.map((x) => x.dataset.stage));
	for (const s of ["classify", "incident_or_cmdb", "confidence_check"])
		if (!stages.includes(s)) throw new Error("stage " + s + " missing from " + stages.join(","));
	const meta = await page.$$eval("#timeline li .meta", (l) => l.map((x) => x.textContent).join("|"));
	if (!/provider /.test(meta)) throw new Error("no provider shown: " + meta);
	if (!/confidence 0\.\d\d|confidence 1\.00/.test(meta)) throw new Error("no confidence shown: " + meta);
	if (k8s.length !== 0) throw new Error("the API server was called before the approval");
	await page.click("#actions button.approve");
	await until("one DELETE of the pod", () => k8s.length >= 1);
	await page.waitForFunction(() => {
		const td = document.querySelector("#actions tbody tr td:nth-child(3)");
		return td && td.textContent === "succeeded";
	}, null, { timeout: WAIT });
	const approval = await page.textContent("#actions tbody tr td:nth-child(4)");
	if (!/^approved by /.test(approval)) throw new Error("approval cell: " + approval);
	if (k8s.length !== 1 || k8s[0].method !== "DELETE" ||
	    !k8s[0].url.startsWith("/api/v1/namespaces/payments/pods/" + POD))
		throw new Error("API server saw " + JSON.stringify(k8s));
	const audit = await page.$$eval("#audit tbody tr td:nth-child(4)", (l) => l.map((x) => x.textContent));
	for (const a of ["approval.requested", "approval.approved", "remediate.executed"])
		if (!audit.includes(a)) throw new Error("audit trail lacks " + a + ": " + audit.join(","));
	log("approved from the page; the pod was deleted once; audit:", audit.join(","));

	// 4. a viewer sees the incident but no Approve button
	const vpage = await browser.newPage();
	await vpage.goto(base + "/ui/");
	await vpage.fill("#token", viewer);
	await vpage.click("#login-form button[type=submit]");
	await vpage.waitForSelector("#incidents tbody tr.clickable", { timeout: WAIT });
	await vpage.click("#incidents tbody tr.clickable");
	await vpage.waitForSelector("#incident:not([hidden])", { timeout: WAIT });
	if (await vpage.$("#actions button.approve") !== null || await vpage.isVisible("#resolve"))
		throw new Error("a viewer is offered operator buttons");

	if (problems.length) throw new Error(problems.join("; "));
	apiserver.close();
}

async function cleanup() {
	if (browser) await browser.close().catch(() => {});
	for (const p of procs) p.kill("SIGTERM");
	await Promise.all(procs.map((p) => new Promise((r) => {
		if (p.exitCode !== null) return r();
		const t = setTimeout(() => { p.kill("SIGKILL"); r(); }, 10000);
		p.on("exit", () => { clearTimeout(t); r(); });
	})));
}

main().then(async () => {
	await cleanup();
	log("ok");
	process.exit(0);
}, async (e) => {
	console.error("dashboard: FAIL:", e.message);
	await cleanup();
	process.exit(1);
});
