#!/usr/bin/env node
// cypher_lint.js - lint Cypher statements with Neo4j's own language support
// (npm @neo4j-cypher/language-support, pinned in package.json), as issue 8
// asks for every statement the Neo4j graph backend sends.
//
//   node cypher_lint.js FILE...
//
// A .c or .h file: every C string literal (adjacent literals joined, as
// the compiler joins them) that starts with "CYPHER " is a statement.  Any
// other file: statements are paragraphs (separated by blank lines; lines
// starting with // are comments).  Every statement must start with
// "CYPHER 5 " (the backend pins the language version).  Errors fail the
// run, except "Parameter $x is not defined" (the linter is given no
// parameters; the backend binds them at run time); warnings are shown.
'use strict';

const fs = require('fs');
const { lintCypherQuery, isNotParamError } = require('@neo4j-cypher/language-support');

// C string literals, adjacent ones joined; escapes the backend may use.
function fromC (text) {
  const out = [];
  const lit = /"((?:[^"\\\n]|\\.)*)"/g;
  let cur = null;
  let end = -1;
  let m;
  // drop comments so a quote inside one does not start a literal
  text = text.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/\/\/[^\n]*/g, ' ');
  while ((m = lit.exec(text)) !== null) {
    const s = m[1].replace(/\\(["\\nt'])/g, (_, c) => ({ n: '\n', t: '\t' })[c] ?? c);
    if (cur !== null && /^\s*$/.test(text.slice(end, m.index))) {
      cur += s;
    } else {
      if (cur !== null) out.push(cur);
      cur = s;
    }
    end = lit.lastIndex;
  }
  if (cur !== null) out.push(cur);
  return out.filter(s => s.startsWith('CYPHER '));
}

function fromText (text) {
  return text.split(/\n\s*\n/)
    .map(p => p.split('\n').filter(l => !/^\s*\/\//.test(l)).join('\n').trim())
    .filter(p => p.length > 0);
}

function main () {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    console.error('usage: cypher_lint.js FILE...');
    return 2;
  }
  let statements = 0;
  let errors = 0;
  for (const f of files) {
    const text = fs.readFileSync(f, 'utf8');
    const list = /\.[ch]$/.test(f) ? fromC(text) : fromText(text);
    for (const q of list) {
      statements++;
      const short = q.replace(/\s+/g, ' ').slice(0, 70);
      if (!q.startsWith('CYPHER 5 ')) {
        errors++;
        console.log(`${f}: error: no "CYPHER 5 " prefix: ${short}`);
        continue;
      }
      for (const d of lintCypherQuery(q, {}).diagnostics) {
        if (d.severity === 1 && !isNotParamError(d)) continue;
        if (d.severity === 1) errors++;
        const kind = d.severity === 1 ? 'error' : 'warning';
        console.log(`${f}: ${kind}: ${d.message.split('\n')[0]} (at ${d.offsets.start}): ${short}`);
      }
    }
  }
  console.log(`cypher lint: ${statements} statements, ${errors} errors`);
  return errors === 0 && statements > 0 ? 0 : 1;
}

process.exitCode = main();
