import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'jest.config.js', 'eslint.config.js', '**/*.mjs'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/explicit-function-return-type': ['error', { allowExpressions: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts', 'tools/**/*.ts', 'lab/**/*.ts'],
    rules: {
      '@typescript-eslint/explicit-function-return-type': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  // The layering rules (docs/adr/0018-layering-rules.md): what may import what.
  ...layer('src/api/**/*.ts', [
    '**/actions/**',
    '**/controller/**',
    '**/intake/**',
    '**/runtime/**',
    '**/runbook/**',
  ]),
  ...layer('src/runtime/**/*.ts', ['**/api/**', '**/actions/**', '**/controller/**', '**/intake/**']),
  ...layer('src/actions/**/*.ts', ['**/controller/**', '**/intake/**', '**/runbook/**']),
  ...layer('src/controller/remediation/**/*.ts', ['../runbook/**']),
  ...layer('src/controller/runbook/**/*.ts', ['../remediation/**']),
  ...layer('src/intake/**/*.ts', ['**/controller/**']),
);

/** Files matching `files` may not import the module paths matching `forbidden`. */
function layer(files, forbidden) {
  const message = 'a layer this folder may not import (docs/adr/0018-layering-rules.md)';
  return [
    {
      files: [files],
      rules: { 'no-restricted-imports': ['error', { patterns: [{ group: forbidden, message }] }] },
    },
  ];
}
