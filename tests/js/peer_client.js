#!/usr/bin/env node
// peer_client.js - the official Neo4j JavaScript driver (npm neo4j-driver,
// pinned) run against the scripted Bolt peer (bin/bolt_peer), to show the
// peer's scripts are what a real client sends and accepts.
//
//   node peer_client.js SCENARIO PORT
//
// Each scenario uses the driver the ordinary way (session.run, explicit
// transactions) and checks what the driver made of the peer's answers;
// the peer checks what the driver sent.  Exit 0 when the scenario's
// expectations held.
'use strict';

const neo4j = require('neo4j-driver');

function check (cond, what) {
  if (!cond) throw new Error('expectation failed: ' + what);
}

// BOLT_TLS_CA=file: TLS, the peer's certificate verified against that CA.
function driverFor (port, extra) {
  const tls = process.env.BOLT_TLS_CA
    ? {
        encrypted: 'ENCRYPTION_ON',
        trust: 'TRUST_CUSTOM_CA_SIGNED_CERTIFICATES',
        trustedCertificates: [process.env.BOLT_TLS_CA]
      }
    : {};
  return neo4j.driver(`bolt://127.0.0.1:${port}`, neo4j.auth.basic('neo4j', 'secret'), {
    maxConnectionPoolSize: 1,
    connectionTimeout: 5000,
    disableLosslessIntegers: true,
    ...tls,
    ...extra
  });
}

const scenarios = {
  // RUN + PULL in batches of two: three records and the bookmark.
  async stream (port) {
    const driver = driverFor(port);
    try {
      const session = driver.session({ fetchSize: 2 });
      const res = await session.run("UNWIND range(1, $limit) AS n RETURN n, 'x' + n AS s",
        { limit: neo4j.int(3) });
      check(JSON.stringify(res.records.map(r => [r.get('n'), r.get('s')])) ===
        '[[1,"x1"],[2,"x2"],[3,"x3"]]', 'three records in order');
      check(JSON.stringify(res.records[0].keys) === '["n","s"]', 'field names');
      await session.close();
      check(session.lastBookmarks().includes('FB:stream-1'), 'bookmark from the summary');
      return 'records ' + res.records.length + ', bookmark ' + session.lastBookmarks();
    } finally {
      await driver.close();
    }
  },

  // neo4j://: the driver asks the router (this port) for the routing table,
  // then runs the streamed query on the writer it names (the second peer,
  // serving stream.script).
  async route (port) {
    const driver = neo4j.driver(`neo4j://127.0.0.1:${port}`, neo4j.auth.basic('neo4j', 'secret'),
      { connectionTimeout: 5000, disableLosslessIntegers: true });
    try {
      const session = driver.session({ fetchSize: 2 });
      const res = await session.run("UNWIND range(1, $limit) AS n RETURN n, 'x' + n AS s",
        { limit: neo4j.int(3) });
      check(res.records.length === 3 && res.records[2].get('s') === 'x3', 'three records');
      await session.close();
      return 'records ' + res.records.length + ' from the writer the table named';
    } finally {
      await driver.close();
    }
  },

  // A read session: RUN carries mode "r".
  async read (port) {
    const driver = driverFor(port);
    try {
      const session = driver.session({ defaultAccessMode: neo4j.session.READ });
      const res = await session.run('RETURN $n AS n', { n: neo4j.int(2) });
      check(res.records.length === 1 && res.records[0].get('n') === 2, 'n = 2');
      await session.close();
      return 'n = ' + res.records[0].get('n') + ', bookmark ' + session.lastBookmarks();
    } finally {
      await driver.close();
    }
  },

  // neo4j:// with a writer and a reader: the router's table (route_rw.router)
  // names two peers; a write session's query goes to the writer (serving
  // stream.script), a read session's to the reader (read.script).
  async route_rw (port) {
    const driver = neo4j.driver(`neo4j://127.0.0.1:${port}`, neo4j.auth.basic('neo4j', 'secret'),
      { connectionTimeout: 5000, disableLosslessIntegers: true });
    try {
      // the database named, so both sessions use the one table (a session
      // without one asks the routers again for the home database)
      const w = driver.session({
        database: 'neo4j', fetchSize: 2, defaultAccessMode: neo4j.session.WRITE
      });
      const res = await w.run("UNWIND range(1, $limit) AS n RETURN n, 'x' + n AS s",
        { limit: neo4j.int(3) });
      check(res.records.length === 3, 'three records from the writer');
      await w.close();
      const r = driver.session({ database: 'neo4j', defaultAccessMode: neo4j.session.READ });
      const res2 = await r.run('RETURN $n AS n', { n: neo4j.int(2) });
      check(res2.records[0].get('n') === 2, 'n = 2 from the reader');
      await r.close();
      return 'writer 3 records, reader n = 2';
    } finally {
      await driver.close();
    }
  },

  // A FAILURE surfaces as Neo4j's code and message; the driver RESETs and
  // the next query on the same connection works.
  async failure (port) {
    const driver = driverFor(port);
    try {
      const session = driver.session();
      let code = null;
      try {
        await session.run('RETURN 1 +');
      } catch (e) {
        code = e.code;
      }
      check(code === 'Neo.ClientError.Statement.SyntaxError', 'the failure code, got ' + code);
      const res = await session.run('RETURN 2 AS n');
      check(res.records.length === 1 && res.records[0].get('n') === 2, 'second query answered');
      await session.close();
      return 'failure ' + code + ', then n = 2';
    } finally {
      await driver.close();
    }
  },

  // The connection drops in the middle of a result: the driver reports
  // the server unavailable (it cannot know whether more records existed).
  async dropped (port) {
    const driver = driverFor(port);
    try {
      const session = driver.session();
      let err = null;
      try {
        await session.run('UNWIND range(1, 1000) AS n RETURN n');
      } catch (e) {
        err = e;
      }
      check(err !== null, 'an error');
      check(['ServiceUnavailable', 'SessionExpired'].includes(err.code), 'code, got ' + err.code);
      await session.close().catch(() => {});
      return 'error ' + err.code;
    } finally {
      await driver.close().catch(() => {});
    }
  },

  // Explicit transactions: COMMIT's bookmark is sent with the next BEGIN.
  async tx_bookmarks (port) {
    const driver = driverFor(port);
    try {
      const session = driver.session({ database: 'graph' });
      const tx1 = await session.beginTransaction();
      await tx1.run('CREATE (:Item {id: $id})', { id: 'svc-1' });
      await tx1.commit();
      check(session.lastBookmarks().includes('FB:tx-1'), 'bookmark after commit');
      const tx2 = await session.beginTransaction();
      const res = await tx2.run('MATCH (i:Item) RETURN count(i) AS c');
      check(res.records[0].get('c') === 1, 'count');
      await tx2.rollback();
      await session.close();
      return 'bookmark ' + session.lastBookmarks();
    } finally {
      await driver.close();
    }
  },

  // Bolt 4.4: credentials in HELLO, UTC datetimes once the patch is agreed.
  async v44 (port) {
    const driver = driverFor(port);
    try {
      const session = driver.session();
      const res = await session.run("RETURN datetime('2023-11-14T22:13:20Z') AS t");
      const t = res.records[0].get('t');
      check(t.toString() === '2023-11-14T22:13:20Z', 'datetime, got ' + t);
      await session.close();
      return 't = ' + t;
    } finally {
      await driver.close();
    }
  },

  // No common version: the driver refuses to go on.
  async noversion (port) {
    const driver = driverFor(port);
    let err = null;
    try {
      await driver.verifyConnectivity();
    } catch (e) {
      err = e;
    } finally {
      await driver.close().catch(() => {});
    }
    check(err !== null, 'an error');
    return 'error ' + (err.code || '') + ' ' + String(err.message).slice(0, 60);
  }
};

async function main () {
  const [name, port] = process.argv.slice(2);
  if (!scenarios[name]) throw new Error('unknown scenario ' + name);
  const said = await scenarios[name](Number(port));
  console.log(`js ${name}: ok (${said})`);
}

main().then(() => { process.exitCode = 0 }, e => {
  console.error(`js: ${e.stack || e}`);
  process.exitCode = 1;
});
