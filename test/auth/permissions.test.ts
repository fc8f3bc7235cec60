// The permission model's matching rules: prefixes (the empty one covers all), exact names,
// access levels, admin, and the range questions (covers every name / touches some name).
import { describe, expect, it } from 'vitest';
import { allows, coversPrefix, describePermission, isAdmin, touchesPrefix, type Permission } from '../../src/auth/index.ts';

const appRead: Permission = { resource: 'key', access: 'read', prefix: 'app/' };
const configExact: Permission = { resource: 'key', access: 'readwrite', name: 'config' };
const allLocksWrite: Permission = { resource: 'lock', access: 'write', prefix: '' };

describe('allows', () => {
  it('matches a prefix permission on names that start with it, and nothing else', () => {
    expect(allows([appRead], 'key', 'read', 'app/a')).toBe(true);
    expect(allows([appRead], 'key', 'read', 'app/')).toBe(true);
    expect(allows([appRead], 'key', 'read', 'app')).toBe(false);
    expect(allows([appRead], 'key', 'read', 'apps/x')).toBe(false);
    expect(allows([appRead], 'key', 'read', 'other')).toBe(false);
  });

  it('matches an exact permission on that name only, not on names it prefixes', () => {
    expect(allows([configExact], 'key', 'read', 'config')).toBe(true);
    expect(allows([configExact], 'key', 'write', 'config')).toBe(true);
    expect(allows([configExact], 'key', 'read', 'config/x')).toBe(false);
    expect(allows([configExact], 'key', 'read', 'confi')).toBe(false);
  });

  it('treats the empty prefix as every name', () => {
    expect(allows([allLocksWrite], 'lock', 'write', 'anything')).toBe(true);
    expect(allows([allLocksWrite], 'lock', 'write', '\u00e9/\u{1F600}')).toBe(true);
  });

  it('keeps access levels apart: read does not write, write does not read, readwrite does both', () => {
    expect(allows([appRead], 'key', 'write', 'app/a')).toBe(false);
    expect(allows([allLocksWrite], 'lock', 'read', 'x')).toBe(false);
    const both: Permission = { resource: 'service', access: 'readwrite', prefix: 'web' };
    expect(allows([both], 'service', 'read', 'web-1')).toBe(true);
    expect(allows([both], 'service', 'write', 'web-1')).toBe(true);
  });

  it('keeps resources apart: a key permission says nothing about locks of the same name', () => {
    expect(allows([appRead], 'lock', 'read', 'app/a')).toBe(false);
    expect(allows([allLocksWrite], 'election', 'write', 'x')).toBe(false);
    expect(allows([allLocksWrite], 'key', 'write', 'x')).toBe(false);
  });

  it('lets admin do everything, and nothing else is admin', () => {
    const admin: Permission[] = [{ resource: 'admin' }];
    expect(isAdmin(admin)).toBe(true);
    expect(isAdmin([appRead, configExact, allLocksWrite, { resource: 'key', access: 'readwrite', prefix: '' }])).toBe(false);
    expect(allows(admin, 'key', 'write', 'any')).toBe(true);
    expect(coversPrefix(admin, 'election', 'read', '')).toBe(true);
  });

  it('grants nothing with no permissions', () => {
    expect(allows([], 'key', 'read', 'a')).toBe(false);
    expect(coversPrefix([], 'key', 'read', 'a')).toBe(false);
    expect(touchesPrefix([], 'key', 'read', '')).toBe(false);
  });
});

describe('coversPrefix and touchesPrefix', () => {
  it('covers a range only from a permission prefix that is a prefix of it', () => {
    expect(coversPrefix([appRead], 'key', 'read', 'app/')).toBe(true);
    expect(coversPrefix([appRead], 'key', 'read', 'app/sub/')).toBe(true);
    expect(coversPrefix([appRead], 'key', 'read', 'app')).toBe(false); // would include "apps"
    expect(coversPrefix([appRead], 'key', 'read', '')).toBe(false);
    expect(coversPrefix([{ resource: 'key', access: 'read', prefix: '' }], 'key', 'read', '')).toBe(true);
  });

  it('never covers a range with an exact name, even the range of that name itself', () => {
    expect(coversPrefix([configExact], 'key', 'read', 'config')).toBe(false);
  });

  it('touches a range when some permitted name lies inside it or it lies inside a permitted prefix', () => {
    expect(touchesPrefix([appRead], 'key', 'read', '')).toBe(true);
    expect(touchesPrefix([appRead], 'key', 'read', 'ap')).toBe(true);
    expect(touchesPrefix([appRead], 'key', 'read', 'app/x')).toBe(true);
    expect(touchesPrefix([appRead], 'key', 'read', 'b')).toBe(false);
    expect(touchesPrefix([configExact], 'key', 'read', 'con')).toBe(true);
    expect(touchesPrefix([configExact], 'key', 'read', 'configs')).toBe(false);
  });
});

it('describes permissions in one line', () => {
  expect(describePermission(appRead)).toBe('key:read:prefix="app/"');
  expect(describePermission(configExact)).toBe('key:readwrite:name="config"');
  expect(describePermission({ resource: 'admin' })).toBe('admin');
});
