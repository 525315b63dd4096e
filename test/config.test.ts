import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { configSchema, envName, flagName, helpText, loadConfig, resolveConfig } from '../src/config.js';

test('defaults are the documented ones', () => {
  const c = resolveConfig({});
  assert.equal(c.host, '127.0.0.1');
  assert.equal(c.port, 8080);
  assert.equal(c.dataDir, './data');
  assert.equal(c.fsync, 'always');
  assert.equal(c.workerSched, 'batch');
  assert.equal(loadConfig(['--worker-sched', 'normal'], {}).config.workerSched, 'normal');
  assert.ok(Object.isFrozen(c));
});

test('flags override env, env overrides the config file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hotvec-cfg-'));
  try {
    const file = join(dir, 'c.json');
    writeFileSync(file, JSON.stringify({ port: 7000, dataDir: '/from-file', workers: 3 }));
    const { config } = loadConfig(['--config', file, '--port', '9000'], { HOTVEC_PORT: '8000', HOTVEC_DATA_DIR: '/from-env' });
    assert.equal(config.port, 9000);
    assert.equal(config.dataDir, '/from-env');
    assert.equal(config.workers, 3);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('every invalid value is reported with the option, its flag and its variable', () => {
  assert.throws(() => loadConfig(['--port', '70000'], {}), /port \(--port, HOTVEC_PORT\)/);
  assert.throws(() => loadConfig(['--fsync', 'sometimes'], {}), /fsync \(--fsync, HOTVEC_FSYNC\)/);
  assert.throws(() => loadConfig([], { HOTVEC_WORKER_SCHED: 'fifo' }), /workerSched \(--worker-sched, HOTVEC_WORKER_SCHED\)/);
  assert.throws(() => loadConfig([], { HOTVEC_WORKERS: '0' }), /workers/);
  assert.throws(() => loadConfig(['--chroma-url', 'not a url'], {}), /chromaUrl/);
  assert.throws(() => loadConfig(['--no-such-flag', '1'], {}), /HOTVEC_INVALID_CONFIG|Unknown option/);
  assert.throws(() => resolveConfig({ bogus: 1 } as never), /unknown option/);
});

test('README documents every option (config table stays true)', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  for (const key of Object.keys(configSchema.shape)) {
    assert.ok(readme.includes(`--${flagName(key)}`), `README lacks --${flagName(key)}`);
    assert.ok(readme.includes(envName(key)), `README lacks ${envName(key)}`);
  }
});

test('--help lists every option, each flag set apart from its variable', () => {
  const lines = helpText().split('\n').filter((l) => l.startsWith('  --'));
  assert.ok(lines.length > 10);
  for (const line of lines) assert.match(line, /^ {2}--[a-z0-9-]+ <[a-z]+> +(HOTVEC_[A-Z0-9_]+|JSON file)/, line);
  // Machine-dependent defaults are said to be so, with the value they take here.
  assert.match(lines.find((l) => l.startsWith('  --workers '))!, /\(default the cores: \d+\)$/);
  assert.match(lines.find((l) => l.startsWith('  --build-threads '))!, /\(default the cores − 1: \d+\)$/);
  assert.match(helpText(), /README\.md, section 'Configuration'/);
});
