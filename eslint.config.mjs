// Lint rules: the recommended sets, type-aware, for the package, the lab
// harness and the tests alike.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", ".pulumi-state/", "scripts/engine/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
      // The dynamic-provider shim loads the built package at run time on purpose.
      "@typescript-eslint/no-require-imports": "off",
    },
  },
);
