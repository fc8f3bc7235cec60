/**
 * docker-compose.yml and the Dockerfile, checked without a Docker engine: every service's
 * CONCORD_* environment and command name only flags `concord serve` accepts (parsed by the real
 * option parser), and the three services together form one valid cluster — ids, peer addresses
 * and advertised URLs that point at each other, a volume each, /ready health checks, a restart
 * policy, and client ports 7001-7003 published.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { SERVE_FLAGS, environmentName, parseServeOptions, type ServeOptions } from '../../src/cli/serve-options.ts';

interface ComposeService {
  readonly image?: string;
  readonly build?: unknown;
  readonly hostname?: string;
  readonly restart?: string;
  readonly environment?: Record<string, string | number> | string[];
  readonly command?: string | string[];
  readonly entrypoint?: string | string[];
  readonly volumes?: (string | { type?: string; source?: string; target?: string })[];
  readonly ports?: (string | number | { published?: number | string; target?: number })[];
  readonly healthcheck?: { test?: string | string[] };
}

interface ComposeFile {
  readonly services: Record<string, ComposeService>;
  readonly volumes?: Record<string, unknown>;
}

const root = new URL('../../', import.meta.url);
const compose = parse(readFileSync(new URL('docker-compose.yml', root), 'utf8'), { merge: true }) as ComposeFile;
const dockerfile = readFileSync(new URL('Dockerfile', root), 'utf8');
const services = Object.entries(compose.services);

/** The image's defaults (ENV lines of the Dockerfile), under the service's own environment. */
function imageEnvironment(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const match of dockerfile.matchAll(/^ENV\s+([A-Z_][A-Z0-9_]*)=(\S+)\s*$/gm)) env[match[1] ?? ''] = match[2] ?? '';
  return env;
}

function environmentOf(service: ComposeService): Record<string, string> {
  const declared = service.environment ?? {};
  const entries = Array.isArray(declared)
    ? declared.map((item) => {
      const at = item.indexOf('=');
      return [item.slice(0, at), item.slice(at + 1)] as const;
    })
    : Object.entries(declared).map(([key, value]) => [key, String(value)] as const);
  return Object.fromEntries(entries);
}

function words(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : value.split(/\s+/).filter((word) => word !== '');
}

/** The container's argv after `node bin/concord.js` (ENTRYPOINT + CMD, as compose overrides them). */
function serveArguments(service: ComposeService): string[] {
  const entrypoint = service.entrypoint === undefined ? JSON.parse(/^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(dockerfile)?.[1] ?? '[]') as string[] : words(service.entrypoint);
  const command = service.command === undefined ? JSON.parse(/^CMD\s+(\[.*\])\s*$/m.exec(dockerfile)?.[1] ?? '[]') as string[] : words(service.command);
  const argv = [...entrypoint, ...command];
  const start = argv.indexOf('bin/concord.js');
  expect(start, `the container runs bin/concord.js: ${argv.join(' ')}`).toBeGreaterThanOrEqual(0);
  const [subcommand, ...flags] = argv.slice(start + 1);
  expect(subcommand).toBe('serve');
  return flags;
}

function optionsOf(service: ComposeService): ServeOptions {
  return parseServeOptions(serveArguments(service), { ...imageEnvironment(), ...environmentOf(service) });
}

describe('docker-compose.yml', () => {
  it('has three services, each with only CONCORD_* variables that name serve flags', () => {
    expect(services).toHaveLength(3);
    const known = new Set(SERVE_FLAGS.map(environmentName));
    for (const [name, service] of services) {
      for (const variable of Object.keys(environmentOf(service))) {
        if (variable.startsWith('CONCORD_')) expect(known, `${name}: ${variable}`).toContain(variable);
      }
      for (const flag of serveArguments(service).filter((arg) => arg.startsWith('--'))) {
        expect(SERVE_FLAGS, `${name}: ${flag}`).toContain(flag.slice(2).split('=')[0]);
      }
    }
  });

  it('gives every service options the real serve parser accepts', () => {
    for (const [name, service] of services) {
      expect(() => optionsOf(service), name).not.toThrow();
    }
  });

  it('forms one valid three-node cluster out of the services', () => {
    const all = services.map(([name, service]) => ({ name, service, options: optionsOf(service) }));
    const ids = all.map(({ options }) => options.id);
    expect(new Set(ids).size).toBe(3);
    const [first] = all;
    for (const { name, service, options } of all) {
      expect(options.clusterId, name).toBe(first?.options.clusterId);
      expect([...options.initialCluster.keys()].sort(), name).toEqual([...ids].sort());
      expect([...options.initialCluster], name).toEqual([...(first?.options.initialCluster ?? [])]);
      // This node's entry points at its own container and peer port...
      const own = options.initialCluster.get(options.id);
      expect([name, service.hostname]).toContain(own?.host);
      expect(own?.port).toBe(options.listenPeer.port);
      // ...and peers can forward to the URL it advertises.
      const advertised = new URL(options.advertiseClient);
      expect([name, service.hostname]).toContain(advertised.hostname);
      expect(Number(advertised.port)).toBe(options.listenClient.port);
      // Listening on every interface of the container, so other containers and the host reach it.
      expect(options.listenClient.host).toBe('0.0.0.0');
      expect(options.listenPeer.host).toBe('0.0.0.0');
    }
    // Every member's peer address is some service's own container and peer port.
    for (const [memberId, address] of first?.options.initialCluster ?? []) {
      const owner = all.find(({ options }) => options.id === memberId);
      expect(owner, memberId).toBeDefined();
      expect([owner?.name, owner?.service.hostname]).toContain(address.host);
      expect(address.port).toBe(owner?.options.listenPeer.port);
    }
  });

  it('publishes client ports 7001-7003, the contract\'s local defaults', () => {
    const published = services.map(([, service]) => {
      const options = optionsOf(service);
      const mapping = (service.ports ?? []).map((port) => {
        if (typeof port === 'object') return { published: Number(port.published), target: Number(port.target) };
        const [host, container] = String(port).split(':').slice(-2);
        return { published: Number(host), target: Number(container) };
      });
      expect(mapping.map((entry) => entry.target)).toContain(options.listenClient.port);
      return mapping.find((entry) => entry.target === options.listenClient.port)?.published;
    });
    expect(published.sort()).toEqual([7001, 7002, 7003]);
    expect(services.map(([, service]) => optionsOf(service).listenPeer.port).sort()).toEqual([7101, 7102, 7103]);
  });

  it('gives each service its own named volume at its data dir, a /ready health check and a restart policy', () => {
    const volumes = services.map(([name, service]) => {
      const options = optionsOf(service);
      const mount = (service.volumes ?? [])
        .map((volume) => (typeof volume === 'string' ? { source: volume.split(':')[0], target: volume.split(':')[1] } : volume))
        .find((volume) => volume.target === options.dataDir);
      expect(mount, `${name} mounts a volume at ${options.dataDir}`).toBeDefined();
      expect(Object.keys(compose.volumes ?? {}), name).toContain(mount?.source);
      expect(words(service.healthcheck?.test).join(' '), name).toMatch(/\/ready/);
      expect(['always', 'unless-stopped', 'on-failure']).toContain(service.restart);
      return mount?.source;
    });
    expect(new Set(volumes).size).toBe(3);
  });
});

describe('Dockerfile', () => {
  it('builds from node 20 with npm ci and runs concord serve', () => {
    expect(dockerfile).toMatch(/^FROM node:20\S*/m);
    expect(dockerfile).toMatch(/^RUN npm ci\b/m);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node", "bin\/concord\.js"\]$/m);
    expect(dockerfile).toMatch(/^CMD \["serve"\]$/m);
  });
});
