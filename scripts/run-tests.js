#!/usr/bin/env node
// Runs every compiled test file (dist/**/*.test.js) with node's built-in test runner, two files at a
// time (the machine has two cores). `npm test` builds and makes the fixtures first (pretest).
// Arguments narrow the run: `npm test -- store` runs the files whose path contains "store".
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawn } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const dist = join(root, 'dist');

function collect(dir, out) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) collect(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const filters = process.argv.slice(2);
const files = collect(dist, [])
  .filter((f) => filters.length === 0 || filters.some((x) => relative(root, f).includes(x)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const concurrency = process.env.CERTFLEET_TEST_CONCURRENCY ?? '2';
// CERTFLEET_TEST_JUNIT=FILE also writes a JUnit report there: every test's and every file's time.
const junit = process.env.CERTFLEET_TEST_JUNIT;
const reporters = junit
  ? ['--test-reporter=spec', '--test-reporter-destination=stdout', '--test-reporter=junit', `--test-reporter-destination=${junit}`]
  : ['--test-reporter=spec'];
const child = spawn(
  process.execPath,
  ['--enable-source-maps', '--test', `--test-concurrency=${concurrency}`, ...reporters, ...files],
  { stdio: 'inherit', cwd: root },
);
child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 1)));
