// Lint rules: typed linting for the habits in shared STYLE.md; generated code is skipped.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'proto/src/generated/**', 'bench/results/**', '**/*.mjs', '*/bin/*.js'] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { project: ['./proto/tsconfig.json', './control-plane/tsconfig.json', './sidecar/tsconfig.json', './examples/tsconfig.json', './tsconfig.test.json'], tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      // Handlers are async for a uniform contract even when one of them has nothing to await.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': [
        'error',
        { selector: 'ExportAllDeclaration', message: 'Name what a module exports; no export *.' },
        { selector: "CallExpression[callee.property.name='only']", message: 'No .only in tests.' },
      ],
    },
  },
  {
    files: ['*/src/**/*.ts'],
    ignores: ['*/src/bin/**', 'examples/src/**', '*/src/cli/**'],
    rules: { 'no-console': ['error'] },
  },
  {
    // vitest's asymmetric matchers (expect.any, expect.stringContaining) are typed any.
    files: ['*/test/**/*.ts'],
    rules: { '@typescript-eslint/no-unsafe-assignment': 'off', '@typescript-eslint/no-unsafe-argument': 'off', '@typescript-eslint/unbound-method': 'off' },
  },
);
