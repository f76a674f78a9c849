import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
    { ignores: ["node_modules/", "bin/", "examples/", "tools/engine/"] },
    js.configs.recommended,
    ...tseslint.configs.recommended,
    {
        rules: {
            "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
        },
    },
    {
        // Plain CommonJS run by Node before any TypeScript loads.
        files: ["program-loader.js"],
        languageOptions: { sourceType: "commonjs", globals: { require: "readonly", process: "readonly" } },
        rules: { "@typescript-eslint/no-require-imports": "off" },
    },
    {
        // `pulumi up` loads the program as one bundle (program-loader.js), where every module's
        // __dirname is the project's folder: the program names its files from project.ts.
        files: ["index.ts", "components/**/*.ts", "config/**/*.ts"],
        rules: {
            "no-restricted-globals": [
                "error",
                ...["__dirname", "__filename"].map((name) => ({
                    name,
                    message:
                        "in the program's bundle this is the project's folder: use projectDir from project.ts",
                })),
            ],
        },
    },
);
