// Lint rules: the recommended sets for the package, the lab harness, the
// stack, scripts and the tests alike.
import js from "@eslint/js";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", ".pulumi-state/", "scripts/engine/", "test-results/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", destructuredArrayIgnorePattern: "^_" },
      ],
      // The dynamic-provider shim loads the built package at run time on purpose.
      "@typescript-eslint/no-require-imports": "off",
    },
  },
  {
    // Plain CommonJS: scripts and the Pulumi programs of test fixtures.
    files: ["**/*.js"],
    languageOptions: { sourceType: "commonjs", globals: globals.node },
  },
);
