// app.js - the Alexus dashboard.
//
// Two views, chosen by the URL's hash: the incident list (#/) and one
// incident (#/incidents/<id>).  Everything comes from the operator API with
// the token pasted at login (kept in sessionStorage, so it goes with the
// tab); the live feed is the API's Server-Sent Events stream, and any event
// on it re-reads the view on screen, so the page never has to merge partial
// updates.  Every value from the API reaches the page through textContent,
// never as HTML.  The server decides what a role may do; the page only
// hides buttons a viewer could not use.
"use strict";

const TOKEN_KEY = "alexus.token";
const FEED_EVENTS = ["incident.stage", "incident.acknowledged", "incident.resolved",
	"incident.note", "action.finished", "approval.decided", "approval.expired"];

const $ = (id) => document.getElementById(id);
let feed = null;
let refreshTimer = null;
let listCursor = null;

function token() { return sessionStorage.getItem(TOKEN_KEY); }

// The token's claims, for display only (the server verifies it).
function claims(tok) {
	try {
		const part = tok.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
		return JSON.parse(atob(part));
	} catch (e) {
		return {};
	}
}

function isOperator() {
	const role = claims(token() || "").role || "viewer";
	return role === "operator" || role === "admin";
}

function showError(msg) { $("error").textContent = msg || ""; }

async function api(method, path, body) {
	const opts = { method, headers: { Authorization: "Bearer " + token() } };
	if (body !== undefined) {
		opts.headers["Content-Type"] = "application/json";
		opts.body = JSON.stringify(body);
	}
	const res = await fetch(path, opts);
	const text = await res.text();
	let doc = null;
	try { doc = text ? JSON.parse(text) : null; } catch (e) { doc = null; }
	if (res.status === 401) {
		logout("Your token was refused: " + ((doc && doc.message) || res.status));
		throw new Error("unauthorized");
	}
	if (!res.ok)
		throw new Error((doc && (doc.message || doc.error)) || ("HTTP " + res.status));
	return doc;
}

function el(tag, text, cls) {
	const e = document.createElement(tag);
	if (text !== undefined && text !== null) e.textContent = String(text);
	if (cls) e.className = cls;
	return e;
}

function row(cells) {
	const tr = document.createElement("tr");
	for (const c of cells) {
		const td = document.createElement("td");
		if (c instanceof Node) td.appendChild(c); else td.textContent = c == null ? "" : String(c);
		tr.appendChild(td);
	}
	return tr;
}

function when(ts) { return ts ? new Date(ts).toLocaleString() : ""; }

function sev(s) { return el("span", s, "sev sev-" + s); }

function show(section) {
	for (const id of ["login", "list", "incident"]) $(id).hidden = id !== section;
}

// ------------------------------------------------------------ session

function login(tok) {
	sessionStorage.setItem(TOKEN_KEY, tok.trim());
	route();
}

function logout(why) {
	sessionStorage.removeItem(TOKEN_KEY);
	if (feed) { feed.close(); feed = null; }
	$("live").className = "live off";
	$("live").textContent = "offline";
	$("login-error").textContent = why || "";
	route();
}

// ------------------------------------------------------------ live feed

function connectFeed() {
	if (feed || !token()) return;
	feed = new EventSource("/v1/events?access_token=" + encodeURIComponent(token()));
	feed.onopen = () => { $("live").className = "live on"; $("live").textContent = "live"; };
	feed.onerror = () => { $("live").className = "live off"; $("live").textContent = "reconnecting"; };
	const changed = () => {
		clearTimeout(refreshTimer);
		refreshTimer = setTimeout(() => route(true), 200);
	};
	feed.onmessage = changed;
	for (const name of FEED_EVENTS) feed.addEventListener(name, changed);
}

// ------------------------------------------------------------ list

function filterQuery() {
	const f = new FormData($("filters"));
	const q = new URLSearchParams();
	for (const [k, v] of f.entries()) if (v) q.set(k, v);
	return q;
}

async function renderList(more) {
	const q = filterQuery();
	q.set("limit", "50");
	if (more && listCursor) q.set("cursor", listCursor);
	const doc = await api("GET", "/v1/incidents?" + q.toString());
	const body = $("incidents").tBodies[0];
	if (!more) body.replaceChildren();
	for (const i of doc.items) {
		const title = el("a", i.title);
		title.href = "#/incidents/" + i.id;
		const tr = row([sev(i.severity), title, i.service, i.stage, i.alert_count,
			when(i.opened_at), i.status]);
		tr.className = "clickable";
		tr.dataset.id = i.id;
		tr.addEventListener("click", () => { location.hash = "#/incidents/" + i.id; });
		body.appendChild(tr);
	}
	listCursor = doc.next_cursor || null;
	$("more").hidden = !listCursor;
	show("list");
}

// ------------------------------------------------------------ one incident

function stageLine(e) {
	const li = el("li");
	li.dataset.stage = e.stage;
	li.appendChild(el("strong", e.stage));
	const out = e.output || {};
	const bits = [];
	if (e.provider) bits.push("provider " + e.provider);
	if (e.fallback) bits.push("fallback");
	if (typeof out.confidence === "number") bits.push("confidence " + out.confidence.toFixed(2));
	if (out.decision) bits.push("decision " + out.decision);
	if (typeof e.duration_ms === "number") bits.push(e.duration_ms + " ms");
	li.appendChild(el("div", bits.join(" · "), "meta"));
	const why = out.reason || out.why || out.summary;
	if (why) li.appendChild(el("div", why));
	return li;
}

async function decide(approvalId, decision) {
	try {
		await api("POST", "/v1/approvals/" + approvalId, { decision });
		route(true);
	} catch (e) {
		showError("Could not " + decision + ": " + e.message);
	}
}

function approvalCell(approval) {
	if (!approval) return el("span", "not needed");
	if (approval.decision) return el("span", approval.decision + " by " + (approval.decided_by || "?"));
	if (new Date(approval.expires_at) <= new Date()) return el("span", "expired");
	const span = el("span");
	if (!isOperator()) {
		span.textContent = "waiting (operators decide)";
		return span;
	}
	const yes = el("button", "Approve", "primary approve");
	const no = el("button", "Reject", "reject");
	yes.dataset.approval = approval.id;
	no.dataset.approval = approval.id;
	yes.addEventListener("click", () => decide(approval.id, "approve"));
	no.addEventListener("click", () => decide(approval.id, "reject"));
	span.append(yes, " ", no);
	return span;
}

async function renderIncident(id) {
	const d = await api("GET", "/v1/incidents/" + encodeURIComponent(id));
	const i = d.incident;
	$("inc-title").textContent = i.title;
	$("inc-meta").replaceChildren(sev(i.severity), " " + [i.status, i.service,
		"opened " + when(i.opened_at), i.acknowledged_at ? "acknowledged by " + i.acknowledged_by : "",
		i.resolved_at ? "resolved " + when(i.resolved_at) : ""].filter(Boolean).join(" · "));
	$("ack").hidden = !isOperator() || !!i.acknowledged_at || i.status !== "open";
	$("resolve").hidden = !isOperator() || i.status !== "open";
	$("ack").dataset.id = $("resolve").dataset.id = i.id;
	$("note-form").hidden = !isOperator();
	$("note-form").dataset.id = i.id;

	$("timeline").replaceChildren(...d.timeline.map(stageLine));

	const diag = d.diagnosis && d.diagnosis.output ? d.diagnosis.output : null;
	$("diagnosis").replaceChildren(diag
		? el("p", [diag.summary, diag.probable_cause].filter(Boolean).join(" — ") ||
			JSON.stringify(diag))
		: el("p", "No diagnosis yet."));

	const approvals = new Map(d.approvals.map((a) => [a.action_id, a]));
	const acts = $("actions").tBodies[0];
	acts.replaceChildren();
	for (const a of d.actions.filter((x) => x.type === "remediate")) {
		const p = a.payload || {};
		const tr = row([p.action || a.type, JSON.stringify(p.params || {}), a.status,
			approvalCell(approvals.get(a.id))]);
		tr.dataset.action = a.id;
		acts.appendChild(tr);
	}
	if (!acts.rows.length) acts.appendChild(row(["none", "", "", ""]));

	$("alerts").tBodies[0].replaceChildren(...d.alerts.map((a) =>
		row([a.name, a.status, a.severity, a.host, when(a.starts_at)])));
	$("notes").replaceChildren(...d.notes.map((n) =>
		el("li", when(n.created_at) + " " + n.author + ": " + n.text)));
	$("audit").tBodies[0].replaceChildren(...d.audit.map((r) =>
		row([r.seq, when(r.at), r.actor, r.action, r.subject])));
	show("incident");
}

// ------------------------------------------------------------ router

async function route(quiet) {
	if (!token()) {
		$("who").textContent = "";
		$("logout").hidden = true;
		show("login");
		return;
	}
	const c = claims(token());
	$("who").textContent = (c.tenant_id || "?") + " · " + (c.role || "viewer");
	$("logout").hidden = false;
	connectFeed();
	if (!quiet) showError("");
	const m = location.hash.match(/^#\/incidents\/([0-9a-f-]{36})$/);
	try {
		if (m) await renderIncident(m[1]);
		else await renderList(false);
	} catch (e) {
		if (e.message !== "unauthorized") showError(e.message);
	}
}

async function incidentOp(id, op, body) {
	try {
		await api("POST", "/v1/incidents/" + id + "/" + op, body || {});
		route(true);
	} catch (e) {
		showError("Could not " + op + ": " + e.message);
	}
}

$("login-form").addEventListener("submit", (ev) => { ev.preventDefault(); login($("token").value); });
$("logout").addEventListener("click", () => logout(""));
$("filters").addEventListener("submit", (ev) => { ev.preventDefault(); renderList(false); });
$("more").addEventListener("click", () => renderList(true));
$("ack").addEventListener("click", (ev) => incidentOp(ev.target.dataset.id, "ack"));
$("resolve").addEventListener("click", (ev) => incidentOp(ev.target.dataset.id, "resolve"));
$("note-form").addEventListener("submit", (ev) => {
	ev.preventDefault();
	incidentOp(ev.target.dataset.id, "notes", { text: $("note").value }).then(() => { $("note").value = ""; });
});
window.addEventListener("hashchange", () => route());
route();
