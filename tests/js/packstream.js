#!/usr/bin/env node
// packstream.js - the PackStream side of the official Neo4j JavaScript
// driver (npm neo4j-driver, version pinned in package.json), for checking
// the C encoder and decoder (common/packstream.c) both ways.
//
//   node packstream.js encode VECTORS.json          -> "name hex" lines
//   node packstream.js decode VECTORS.json HEXFILE  -> checks every line
//
// The vectors are in the notation of tests/lib/boltpeer.h.  Encoding uses
// the driver's own Packer (neo4j-driver-bolt-connection/lib/packstream,
// v2 = the PackStream of Bolt 5) writing into the driver's channel buffer;
// temporal and spatial values are first made into the driver's types
// (Date, DateTime, Point...) by the Bolt version's transformer and packed
// from those, so their bytes are the driver's dehydration, not ours.
// Nodes, relationships and paths cannot be sent by a driver (its
// transformer refuses them), so those are packed as plain structures.
// Decoding uses the driver's Unpacker with the same transformer's
// hydration, then compares with the vector built the same way.
'use strict';

const fs = require('fs');
const { v2 } = require('neo4j-driver-bolt-connection/lib/packstream');
const { Structure } = require('neo4j-driver-bolt-connection/lib/packstream/structure');
const { alloc } = require('neo4j-driver-bolt-connection/lib/channel');
const Transformer = require('neo4j-driver-bolt-connection/lib/bolt/transformer').default;
const v4x4 = require('neo4j-driver-bolt-connection/lib/bolt/bolt-protocol-v4x4.transformer').default;
const v5x4 = require('neo4j-driver-bolt-connection/lib/bolt/bolt-protocol-v5x4.transformer').default;
const neo4j = require('neo4j-driver');

const config = { disableLosslessIntegers: false, useBigInt: false };
const log = { warn () {}, info () {}, debug () {}, error () {}, isDebugEnabled () { return false } };
function transformer (table) {
  return new Transformer(Object.values(table).map(create => create(config, log)));
}
const TRANSFORMERS = { 4.4: transformer(v4x4), 5: transformer(v5x4) };
const GRAPH_TAGS = new Set([0x4e, 0x52, 0x72, 0x50]); // node, relationship, unbound, path

// Notation -> driver value.  hydrateGraph: also turn graph structures into
// the driver's Node/Relationship/Path (for comparing what it unpacked).
function build (j, tr, hydrateGraph) {
  if (j === null || typeof j === 'boolean' || typeof j === 'string') return j;
  if (typeof j === 'number') return Number.isInteger(j) ? neo4j.int(j) : j;
  if (Array.isArray(j)) return j.map(x => build(x, tr, hydrateGraph));
  const keys = Object.keys(j);
  if (keys.length === 1 && keys[0][0] === '$') {
    const a = j[keys[0]];
    switch (keys[0]) {
      case '$int': return neo4j.int(a);
      case '$float':
        return { nan: NaN, inf: Infinity, '-inf': -Infinity, '-0': -0 }[a] ?? Number(a);
      case '$bytes': return Int8Array.from(Buffer.from(a, 'hex'));
      case '$utf8': return Buffer.from(a, 'hex').toString('utf8');
      case '$bytes_n': return Int8Array.from({ length: a }, (_, i) => (i << 24) >> 24);
      case '$str': return a[0].repeat(a[1]);
      case '$list': return Array.from({ length: a[1] }, () => build(a[0], tr, hydrateGraph));
      case '$dict_n': {
        const o = {};
        for (let i = 0; i < a; i++) o['k' + i] = neo4j.int(i);
        return o;
      }
      case '$struct': {
        const s = new Structure(a[0], a[1].map(x => build(x, tr, hydrateGraph)));
        if (GRAPH_TAGS.has(a[0]) && !hydrateGraph) return s;
        return tr.fromStructure(s);
      }
      default: throw new Error('unknown notation ' + keys[0]);
    }
  }
  const o = {};
  for (const k of keys) o[k] = build(j[k], tr, hydrateGraph);
  return o;
}

function encode (value, tr) {
  const buf = alloc(4 << 20);
  const packer = new v2.Packer(buf);
  packer.packable(value, tr.toStructure)();
  const n = buf.position;
  let hex = '';
  for (let i = 0; i < n; i++) hex += buf.getUInt8(i).toString(16).padStart(2, '0');
  return hex;
}

function decode (hex, tr) {
  const buf = alloc(Buffer.from(hex, 'hex'));
  const v = new v2.Unpacker(false, false).unpack(buf, tr.fromStructure);
  if (buf.remaining() !== 0) throw new Error(buf.remaining() + ' bytes left after the value');
  return v;
}

// Deep equality of driver values; the path says where they differ.
function same (a, b, path) {
  if (typeof a === 'number' || typeof b === 'number') {
    return Object.is(a, b) ? null : `${path}: ${a} != ${b}`;
  }
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') {
    return a === b ? null : `${path}: ${JSON.stringify(a)} != ${JSON.stringify(b)}`;
  }
  if (neo4j.isInt(a) || neo4j.isInt(b)) {
    return neo4j.isInt(a) && neo4j.isInt(b) && a.equals(b) ? null : `${path}: ${a} != ${b}`;
  }
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) {
    return `${path}: ${a.constructor && a.constructor.name} != ${b.constructor && b.constructor.name}`;
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return `${path}: ${ka.length} keys != ${kb.length}`;
  for (const k of ka) {
    if (!Object.prototype.hasOwnProperty.call(b, k)) return `${path}.${k} missing`;
    const d = same(a[k], b[k], `${path}.${k}`);
    if (d) return d;
  }
  return null;
}

function main () {
  const [mode, vectorsFile, hexFile] = process.argv.slice(2);
  const vectors = JSON.parse(fs.readFileSync(vectorsFile, 'utf8'));
  if (mode === 'encode') {
    const out = [];
    for (const [name, version, notation] of vectors) {
      const tr = TRANSFORMERS[version];
      out.push(name + ' ' + encode(build(notation, tr, false), tr));
    }
    process.stdout.write(out.join('\n') + '\n');
    return 0;
  }
  if (mode === 'decode') {
    const got = new Map();
    for (const line of fs.readFileSync(hexFile, 'utf8').split('\n')) {
      if (line) got.set(line.slice(0, line.indexOf(' ')), line.slice(line.indexOf(' ') + 1));
    }
    let passed = 0; let failed = 0;
    for (const [name, version, notation] of vectors) {
      const tr = TRANSFORMERS[version];
      let why = null;
      try {
        if (!got.has(name)) throw new Error('no bytes for it');
        why = same(decode(got.get(name), tr), build(notation, tr, true), name);
      } catch (e) {
        why = `${name}: ${e.message}`;
      }
      if (why) {
        failed++;
        console.error('FAIL ' + why);
      } else {
        passed++;
      }
    }
    console.log(`js decode: ${passed} passed, ${failed} failed`);
    return failed === 0 && passed > 0 ? 0 : 1;
  }
  console.error('usage: packstream.js encode|decode VECTORS.json [HEXFILE]');
  return 2;
}

process.exitCode = main();
