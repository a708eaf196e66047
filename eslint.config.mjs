// @ts-check
import eslint from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'reports/**', '.cache/**', '.scratch/**', 'cucumber.js', 'eslint.config.mjs'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/steps/**'], message: 'model/ must not import steps/' }] }],
      'no-restricted-globals': [
        'error',
        { name: '__dirname', message: 'the code also runs compiled from dist/: use ROOT from model/root.ts' },
        { name: '__filename', message: 'the code also runs compiled from dist/: use ROOT from model/root.ts' },
      ],
    },
  },
  { files: ['model/root.ts'], rules: { 'no-restricted-globals': 'off' } },
  // Tests may check the steps' own helpers (steps/expect.ts).
  { files: ['test/**/*.ts'], rules: { 'no-restricted-imports': 'off' } },
  {
    // The compile-once tooling: plain CommonJS that runs before any TypeScript is built.
    files: ['bin/**/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', module: 'writable', __dirname: 'readonly', process: 'readonly', Buffer: 'readonly', console: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off', 'no-restricted-globals': 'off' },
  },
)
