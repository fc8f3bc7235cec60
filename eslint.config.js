// Lint rules that carry the architecture: the core (src/raft, src/kv, src/lock, src/registry, src/auth) is deterministic,
// so it may not touch clocks, randomness, timers, the process or Node's I/O modules.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nondeterministicGlobals = [
  { name: 'Date', message: 'The core is deterministic: time enters as tick() or an injected Clock.' },
  { name: 'setTimeout', message: 'The core has no timers: time enters as tick().' },
  { name: 'setInterval', message: 'The core has no timers: time enters as tick().' },
  { name: 'setImmediate', message: 'The core has no timers.' },
  { name: 'performance', message: 'The core is deterministic: no clocks.' },
  { name: 'process', message: 'The core does no I/O and reads no environment.' },
  { name: 'crypto', message: 'The core takes randomness from an injected Random.' },
];

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { console: 'readonly', process: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', performance: 'readonly', Buffer: 'readonly', URL: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly', queueMicrotask: 'readonly' },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'max-lines': ['error', { max: 800, skipBlankLines: true, skipComments: true }],
    },
  },
  {
    files: ['src/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'error' },
  },
  {
    files: ['src/raft/**/*.ts', 'src/kv/**/*.ts', 'src/lock/**/*.ts', 'src/registry/**/*.ts', 'src/auth/**/*.ts'],
    rules: {
      'no-restricted-globals': ['error', ...nondeterministicGlobals],
      'no-restricted-properties': ['error', { object: 'Math', property: 'random', message: 'Use the injected Random.' }],
      'no-restricted-imports': ['error', { patterns: [{ group: ['node:*', 'fs', 'net', 'os', 'path', 'crypto', 'timers', 'child_process', 'level', 'pino'], message: 'The core does no I/O.' }] }],
    },
  },
);
