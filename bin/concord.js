#!/usr/bin/env node
// The `concord` command. Concord is written in TypeScript and runs through tsx's loader, so
// the command works from a checkout without a build step.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
