/**
 * The `concord` command line. Today it knows only what exists: `version` and `help`. The
 * server (`concord serve`), the local cluster and the etcdctl-style commands arrive with the
 * storage, server and SDK work; until then they are absent, not faked.
 */
import { readFileSync } from 'node:fs';

const USAGE = `usage: concord <command>

commands:
  version    print the version
  help       print this help

The server and client commands are not built yet; see the README's "What works today".
`;

function version(): string {
  const packageJson = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return packageJson.version;
}

function main(argv: readonly string[]): number {
  const [command] = argv;
  switch (command) {
    case 'version':
    case '--version':
      process.stdout.write(`concord ${version()}\n`);
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

process.exitCode = main(process.argv.slice(2));
