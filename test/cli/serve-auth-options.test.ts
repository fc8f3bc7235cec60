// The auth flags of `concord serve`: --auth as a switch (and CONCORD_AUTH), the bootstrap token
// file read and hashed (never kept plain), its length rule, and --token-rate-limit.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseServeOptions } from '../../src/cli/serve-options.ts';
import { hashToken } from '../../src/server/auth/token-secrets.ts';

const dir = mkdtempSync(join(tmpdir(), 'concord-auth-flags-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const BASE = ['--id', 'n1', '--data-dir', dir, '--listen-client', '127.0.0.1:7001', '--listen-peer', '127.0.0.1:7101', '--initial-cluster', 'n1=127.0.0.1:7101'];

describe('serve auth flags', () => {
  it('is off by default, with the default rate limit', () => {
    expect(parseServeOptions(BASE, {}).auth).toEqual({ enabled: false, bootstrapTokenHash: null, tokenRequestsPerSecond: 1000 });
  });

  it('takes --auth as a switch, CONCORD_AUTH as true/false/1/0', () => {
    expect(parseServeOptions([...BASE, '--auth'], {}).auth.enabled).toBe(true);
    expect(parseServeOptions(BASE, { CONCORD_AUTH: 'true' }).auth.enabled).toBe(true);
    expect(parseServeOptions(BASE, { CONCORD_AUTH: '0' }).auth.enabled).toBe(false);
    expect(() => parseServeOptions(BASE, { CONCORD_AUTH: 'yes' })).toThrow(/--auth is a switch/);
  });

  it('reads the bootstrap token file and keeps only its hash', () => {
    const file = join(dir, 'token');
    const token = 'f'.repeat(64);
    writeFileSync(file, `${token}\n`);
    const options = parseServeOptions([...BASE, '--auth', '--auth-bootstrap-token-file', file], {});
    expect(options.auth.bootstrapTokenHash).toBe(hashToken(token));
    expect(JSON.stringify(options)).not.toContain(token);
    expect(parseServeOptions(BASE, { CONCORD_AUTH_BOOTSTRAP_TOKEN_FILE: file }).auth.bootstrapTokenHash).toBe(hashToken(token));
  });

  it('refuses a short or missing bootstrap token file', () => {
    const short = join(dir, 'short');
    writeFileSync(short, 'hunter2');
    expect(() => parseServeOptions([...BASE, '--auth-bootstrap-token-file', short], {})).toThrow(/24\.\.512 characters/);
    expect(() => parseServeOptions([...BASE, '--auth-bootstrap-token-file', join(dir, 'absent')], {})).toThrow(/cannot read/);
  });

  it('takes --token-rate-limit as a non-negative integer', () => {
    expect(parseServeOptions([...BASE, '--token-rate-limit', '0'], {}).auth.tokenRequestsPerSecond).toBe(0);
    expect(parseServeOptions(BASE, { CONCORD_TOKEN_RATE_LIMIT: '50' }).auth.tokenRequestsPerSecond).toBe(50);
    expect(() => parseServeOptions([...BASE, '--token-rate-limit', '-1'], {})).toThrow(/--token-rate-limit/);
  });
});
