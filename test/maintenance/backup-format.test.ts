// The backup file format: a round trip, and every way a file can be unusable — truncated
// anywhere, one flipped bit anywhere, wrong magic, a newer version — refused with its own error.
import { describe, expect, it } from 'vitest';
import {
  BACKUP_CHECKSUM_BYTES,
  BACKUP_HEADER_BYTES,
  BackupFormatError,
  type BackupProblem,
  backupFileName,
  decodeBackup,
  encodeBackup,
} from '../../src/maintenance/backup-format.ts';

const point = { raftIndex: 1234, raftTerm: 7, revision: 99, takenAtMs: Date.UTC(2024, 0, 2, 3, 4, 5) };
const payload = new TextEncoder().encode('CKVS\u0002 a KV snapshot stands here');

function problemOf(file: Uint8Array): { problem: BackupProblem; message: string } | null {
  try {
    decodeBackup(file);
    return null;
  } catch (error) {
    if (!(error instanceof BackupFormatError)) throw error;
    return { problem: error.problem, message: error.message };
  }
}

describe('backup format', () => {
  it('round-trips header and payload, with the SHA-256 as its checksum', () => {
    const file = encodeBackup(point, payload);
    expect(file.length).toBe(BACKUP_HEADER_BYTES + payload.length + BACKUP_CHECKSUM_BYTES);
    const decoded = decodeBackup(file);
    expect(decoded.header).toEqual({ formatVersion: 1, ...point, payloadBytes: payload.length });
    expect([...decoded.payload]).toEqual([...payload]);
    expect(decoded.checksum).toMatch(/^[0-9a-f]{64}$/);
    expect(decoded.checksum).toBe(Buffer.from(file.subarray(file.length - BACKUP_CHECKSUM_BYTES)).toString('hex'));
  });

  it('round-trips an empty payload and large counts', () => {
    const big = { raftIndex: Number.MAX_SAFE_INTEGER, raftTerm: 2 ** 40, revision: 2 ** 53 - 2, takenAtMs: 0 };
    expect(decodeBackup(encodeBackup(big, new Uint8Array(0))).header).toMatchObject(big);
  });

  it('refuses a file truncated at any length, saying so', () => {
    const file = encodeBackup(point, payload);
    for (let length = 0; length < file.length; length++) {
      const outcome = problemOf(file.subarray(0, length));
      expect(outcome?.problem, `length ${length}`).toBe('truncated');
      expect(outcome?.message).toMatch(/truncated/);
    }
  });

  it('refuses a file with any single bit flipped', () => {
    const file = encodeBackup(point, payload);
    for (let offset = 0; offset < file.length; offset++) {
      for (const bit of [0, 7]) {
        const damaged = file.slice();
        damaged[offset] = (damaged[offset] ?? 0) ^ (1 << bit);
        const outcome = problemOf(damaged);
        expect(outcome, `offset ${offset} bit ${bit}`).not.toBeNull();
        // Magic and version are read before the checksum; anything else is a checksum or length failure.
        if (offset < 8) expect(outcome?.problem).toBe('bad_magic');
        else if (offset < 12) expect(outcome?.problem).toBe('unsupported_version');
        else expect(['corrupt', 'truncated']).toContain(outcome?.problem);
      }
    }
    const flipped = file.slice();
    flipped[BACKUP_HEADER_BYTES + 3] = (flipped[BACKUP_HEADER_BYTES + 3] ?? 0) ^ 0x10;
    expect(problemOf(flipped)?.message).toMatch(/SHA-256 [0-9a-f]{64} does not match the stored [0-9a-f]{64}/);
  });

  it('refuses bytes appended after the checksum', () => {
    const file = encodeBackup(point, payload);
    const longer = new Uint8Array(file.length + 1);
    longer.set(file);
    expect(problemOf(longer)).toMatchObject({ problem: 'corrupt' });
  });

  it('refuses a file that is not a backup, naming the magic it expected', () => {
    const outcome = problemOf(new TextEncoder().encode('{"error":{"code":"no_leader"}}' + ' '.repeat(100)));
    expect(outcome).toEqual({ problem: 'bad_magic', message: 'not a Concord backup file (it does not start with "CONCBKUP")' });
  });

  it('refuses a newer format version with the version it found', () => {
    const file = encodeBackup(point, payload);
    new DataView(file.buffer).setUint32(8, 2);
    expect(problemOf(file)).toEqual({
      problem: 'unsupported_version',
      message: 'backup format version 2 is not supported (this build reads version 1)',
    });
  });

  it('names files by cluster, revision and UTC time', () => {
    expect(backupFileName('prod/eu', point)).toBe('concord-prod_eu-rev99-20240102T030405Z.db');
  });
});
