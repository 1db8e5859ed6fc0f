// ESLint (flat config): JavaScript and typescript-eslint recommended rules, React hooks rules for the viewer.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['node_modules', 'dist', 'out', 'bench/results', 'models/builtin'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.browser, ...globals.node }, ecmaVersion: 2023, sourceType: 'module' },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Untyped JSON (file headers, manifests, configs) and three's TSL node graphs are `any` at their boundary;
      // readers check such values field by field before use.
      '@typescript-eslint/no-explicit-any': 'off',
      // The CLIP text clean-up removes control characters on purpose (ftfy's rules).
      'no-control-regex': 'off',
    },
  },
  { files: ['src/viewer/**/*.{ts,tsx}'], plugins: { 'react-hooks': reactHooks }, rules: reactHooks.configs.recommended.rules },
);
