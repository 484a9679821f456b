// Lint rules that carry the design's conventions (../shared/design.md): the pure core stays
// free of I/O, and nothing keeps module-level mutable state hidden in `let`.
import tseslint from 'typescript-eslint';

const NO_IO = {
  paths: ['node:net', 'node:tls', 'node:http', 'node:https', 'node:http2', 'node:dns', 'node:dns/promises', 'node:fs', 'node:fs/promises',
    'net', 'tls', 'http', 'https', 'http2', 'dns', 'fs'].map((name) => ({ name, message: 'the pure core (policy/, flow/, pipeline/) does no I/O: pass what it needs in' })),
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'web/dist/**', 'bench/results/**', '**/*.js'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  {
    files: ['src/policy/**/*.ts', 'src/flow/**/*.ts', 'src/pipeline/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', NO_IO] },
  },
);
