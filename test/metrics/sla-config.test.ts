/** The SLA options: defaults, fractional values from flags and environment, refused values named. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig, resolveConfig } from '../../src/config.js';

test('SLA defaults: p99 10 ms, p95 5 ms, 0.1 % errors, 5 s write lag 99.9 % of the time, 100 events before an alert, evaluated every second, no webhook', () => {
  const c = resolveConfig({});
  assert.deepEqual(
    [c.slaQueryP99Ms, c.slaQueryP95Ms, c.slaErrorRatio, c.slaWriteLagMs, c.slaWriteLagCompliance, c.slaMinEvents, c.slaIntervalMs, c.slaWebhookUrl],
    [10, 5, 0.001, 5000, 0.999, 100, 1000, undefined],
  );
});

test('fractional targets come from flags and the environment', () => {
  const { config } = loadConfig(['--sla-query-p99-ms', '0.001', '--sla-webhook-url', 'http://127.0.0.1:9/hook'], { HOTVEC_SLA_ERROR_RATIO: '0.0005' });
  assert.equal(config.slaQueryP99Ms, 0.001);
  assert.equal(config.slaErrorRatio, 0.0005);
  assert.equal(config.slaWebhookUrl, 'http://127.0.0.1:9/hook');
});

test('impossible SLA values are refused with the option named', () => {
  assert.throws(() => loadConfig(['--sla-query-p99-ms', '0'], {}), /slaQueryP99Ms \(--sla-query-p99-ms, HOTVEC_SLA_QUERY_P99_MS\)/);
  assert.throws(() => loadConfig(['--sla-error-ratio', '1'], {}), /slaErrorRatio/);
  assert.throws(() => loadConfig(['--sla-write-lag-compliance', '1'], {}), /slaWriteLagCompliance/);
  assert.throws(() => loadConfig(['--sla-interval-ms', '5'], {}), /slaIntervalMs/);
  assert.throws(() => loadConfig(['--sla-min-events=-1'], {}), /slaMinEvents/);
  assert.equal(loadConfig(['--sla-min-events', '0'], {}).config.slaMinEvents, 0, '0 turns the minimum off');
  assert.throws(() => loadConfig(['--sla-webhook-url', 'not a url'], {}), /slaWebhookUrl/);
});
