/**
 * The `concord` command line: `serve` (one node), `local-cluster` (three nodes on loopback, what
 * `npm start` runs), `version`, `help`, and the etcdctl-style client commands (client-commands.ts),
 * which talk to the cluster through the SDK. See docs/cli.md.
 */
import { readFileSync } from 'node:fs';
import { ConcordError } from '../common/errors.ts';
import { parseServeOptions } from './serve-options.ts';
import { clientCommandsHelp, isClientCommand, runClientCommand } from './client-commands.ts';
import { hoistGlobalFlags, runCommand } from './common.ts';
import { RUNTIME } from './runtime.ts';

const SERVE_FLAGS = `concord serve flags:
  --id ID                       this node's id (required)
  --data-dir DIR                where the node keeps its log and snapshots (required)
  --listen-client HOST:PORT     the HTTP API (required)
  --listen-peer HOST:PORT       peer traffic; outgoing peer connections bind to HOST (required)
  --initial-cluster ID=HOST:PORT,...
                                every member's peer address (required unless --join; a hint
                                once the data dir has state)
  --join URL                    an existing member's client URL: a node with a new data dir
                                learns the members from it and asks to be added (a learner,
                                promoted once caught up) instead of bootstrapping a cluster
  --advertise-client URL        the URL peers forward to (default http://<listen-client>)
  --advertise-peer HOST:PORT    the peer address other members dial (default: this node's
                                --initial-cluster entry, else --listen-peer)
  --cluster-id ID               peers of another cluster id are refused (default concord);
                                stored in the data dir at first start (or by snapshot
                                restore), which then runs under the stored id: a different
                                explicit --cluster-id is refused
  --log-level LEVEL             fatal, error, warn, info, debug or trace (default info)
  --snapshot-every N            tuning, not part of the contract: snapshot every N applied
                                entries (default 100000) or 64 MiB of their data, whichever
                                comes first
  --client-cert FILE, --client-key FILE
                                serve the client API over HTTPS (PEM; docs/security.md);
                                --advertise-client then defaults to https://<listen-client>
  --client-ca FILE              require client certificates signed by this CA (bundle);
                                forwarding to the leader trusts it
  --peer-cert FILE, --peer-key FILE, --peer-ca FILE
                                mutual TLS between peers (all three); a peer certificate's CN
                                must be the member id the peer claims
  --auth                        require a bearer token on every /v1 route (docs/security.md)
  --auth-bootstrap-token-file FILE
                                the first admin's token (user root), used while no admin exists
  --token-rate-limit N          requests per second per token on this node (default 1000;
                                0 = unlimited); beyond it 429 overloaded
`;

const LOCAL_CLUSTER_FLAGS = `concord local-cluster flags:
  --data-dir DIR                parent of node1..node3 (default ./data)
  --log-level LEVEL             passed to every node (default info)
  --tls                         HTTPS with client certificates and peer mutual TLS; makes
                                development certificates in <data-dir>/certs if absent
  --base-port N                 clients on N+1..N+3, peers on N+101..N+103 (default 7000)
`;

const USAGE = `usage: concord <command> [flags]     (\`concord <command> --help\` for each)

commands:
  serve          run one node (flags below, each also settable as CONCORD_<FLAG>)
  local-cluster  run three nodes on loopback (what \`npm start\` runs); Ctrl-C stops them
                 (--tls: with TLS, certificates made in the data dir)
  certs          write a development CA and node and client certificates
                 (certs --out DIR --nodes ID,... [--hosts H,...] [--force] [--json])
  version        print the version
  help           print this help

client commands (global flags: --endpoints URL,... --token TOKEN --json --timeout-ms N --help;
  for https:// endpoints --cacert FILE, and --cert FILE --key FILE for client certificates):
${clientCommandsHelp()}

exit codes: 0 ok, 1 other error, 2 usage, 3 not found, 4 conflict (compare failed, stale
token, locked, a membership change the cluster's state refuses), 5 unavailable or timeout,
6 lease/lock lost, 7 backup file corrupt or truncated, 8 unauthenticated or permission
denied, 130 interrupted while waiting.

${SERVE_FLAGS}
${LOCAL_CLUSTER_FLAGS}`;

function version(): string {
  const packageJson = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return packageJson.version;
}

/** `concord serve --help`, `concord local-cluster -h`: the node commands' own flags. */
function asksForHelp(argv: readonly string[]): boolean {
  return argv.includes('--help') || argv.includes('-h');
}

async function serve(argv: readonly string[]): Promise<number> {
  if (asksForHelp(argv)) {
    process.stdout.write(SERVE_FLAGS);
    return 0;
  }
  let options;
  try {
    options = parseServeOptions(argv, process.env);
  } catch (error) {
    if (!(error instanceof ConcordError)) throw error;
    process.stderr.write(`concord serve: ${error.message}\n\nRun \`concord serve --help\` for the flags.\n`);
    return 2;
  }
  const { makeLogger, runServe } = await import('./serve.ts');
  const { createHttpServer } = await import('../server/index.ts');
  const logger = makeLogger(options);
  const crash = (error: unknown): void => {
    logger.fatal({ err: error }, 'uncaught error, exiting');
    process.exit(1);
  };
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);
  return runServe(options, createHttpServer, logger);
}

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = hoistGlobalFlags(argv);
  if (command !== undefined && isClientCommand(command)) return runClientCommand(command, rest);
  switch (command) {
    case 'serve':
      return serve(rest);
    case 'local-cluster': {
      if (asksForHelp(rest)) {
        process.stdout.write(LOCAL_CLUSTER_FLAGS);
        return 0;
      }
      const { runLocalCluster } = await import('./local-cluster.ts');
      return runLocalCluster(rest);
    }
    case 'certs': {
      const { certsCommand } = await import('./certs-command.ts');
      return runCommand('certs', certsCommand, rest);
    }
    case 'version':
    case '--version':
      // Which code runs (bin/concord.js's choice) is part of the answer: see src/cli/runtime.ts.
      process.stdout.write(`concord ${version()} (${RUNTIME === 'compiled' ? 'compiled build' : 'from source through tsx'})\n`);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return 0;
    default:
      process.stderr.write(`concord: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
      return 2;
  }
}

// A reader that went away (`concord ls | head`) is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

// exit() rather than exitCode: a node that stopped may still hold sockets in their close timeouts.
process.exit(await main(process.argv.slice(2)));
