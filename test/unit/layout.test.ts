import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";

const ROOT = path.resolve(__dirname, "../..");

/** Every relative module specifier (import ... from, import(), require()) in a TypeScript file. */
function relativeImports(file: string): string[] {
    const source = fs.readFileSync(file, "utf8");
    const specifiers = [...source.matchAll(/(?:from\s+|import\(\s*|require\(\s*)["'](\.[^"']*)["']/g)];
    return specifiers.map((m) => m[1]);
}

function tsFiles(dir: string): string[] {
    return fs
        .readdirSync(path.join(ROOT, dir), { recursive: true, encoding: "utf8" })
        .filter((f) => f.endsWith(".ts"))
        .map((f) => path.join(ROOT, dir, f));
}

describe("layout", () => {
    for (const dir of ["bench", "testkit"]) {
        it(`${dir}/ imports nothing from test/ (what it shares with the tests lives in testkit/)`, () => {
            const files = tsFiles(dir);
            assert.ok(files.length > 0, `no TypeScript in ${dir}/`);
            const offending = files.flatMap((file) =>
                relativeImports(file)
                    .map((spec) => path.relative(ROOT, path.resolve(path.dirname(file), spec)))
                    .filter((target) => target === "test" || target.startsWith(`test${path.sep}`))
                    .map((target) => `${path.relative(ROOT, file)} -> ${target}`),
            );
            assert.deepEqual(offending, []);
        });
    }

    it("the product code imports nothing from testkit/, test/, bench/ or tools/", () => {
        const product = [
            path.join(ROOT, "index.ts"),
            ...fs
                .readdirSync(ROOT)
                .filter((f) => f.endsWith(".ts"))
                .map((f) => path.join(ROOT, f)),
            ...tsFiles("components"),
        ];
        const offending = product.flatMap((file) =>
            relativeImports(file)
                .map((spec) => path.relative(ROOT, path.resolve(path.dirname(file), spec)))
                .filter((target) => /^(testkit|test|bench|tools)(\/|$)/.test(target))
                .map((target) => `${path.relative(ROOT, file)} -> ${target}`),
        );
        assert.deepEqual(offending, []);
    });
});
