/**
 * The orchestrator as one JavaScript text, which BlueGreenDeployment hands to `node -` on stdin.
 *
 * How it runs under @pulumi/command, and why this way: a local Command runs `node - <args>` (see
 * host-commands.ts, orchestratorCommand) with this text on stdin and the SSH key in its secret
 * `environment`.
 * - The command's text names no file, so it is the same from any checkout or directory, and
 *   `pulumi up` elsewhere changes nothing; a change of the orchestrator's code shows as a change of
 *   the command's stdin, and runs as an update.
 * - The key is never a word of the command: only the secret environment carries it, and the
 *   orchestrator removes it from its own environment before starting ssh.
 * - It runs on the Node that runs the Pulumi program (`node` on PATH), 20 or 24 alike: the text is
 *   plain CommonJS, transpiled from the TypeScript sources here at program start (TypeScript's
 *   transpileModule, which the program's ts-node uses too), so it does not depend on Node's type
 *   stripping (Node 22.6+) nor on `--input-type=module-typescript` (which cannot import the shared
 *   modules from stdin). The shared modules (patterns.ts, host-commands.ts, summary.ts) are bundled
 *   into the text, so the orchestrator and the component judge every value by the same code.
 * - zod is `require`d at run time: a script read from stdin resolves packages from the working
 *   directory, which for a local Command is the project's directory (where Pulumi.yaml is); its
 *   node_modules are the ones the program itself runs from.
 * Not a dynamic provider: its code would be serialized into the state with every closure it
 * captures, and its secrets handling is the program's own to get right; @pulumi/command's
 * environment secret is the documented way.
 */
import * as fs from "fs";
import * as path from "path";
import * as ts from "typescript";

/** The directory the orchestrator's modules are named from (components/deploy). */
const ROOT = path.resolve(__dirname, "..");
/** The entry module, relative to ROOT. */
const ENTRY = "orchestrator/cli";

/** Transpiles one module to CommonJS, as ts-node does. */
function transpile(file: string): string {
    return ts.transpileModule(fs.readFileSync(file, "utf8"), {
        compilerOptions: {
            module: ts.ModuleKind.CommonJS,
            target: ts.ScriptTarget.ES2022,
            esModuleInterop: true,
            removeComments: true,
        },
        fileName: file,
    }).outputText;
}

/** Every module the entry needs, by id (path relative to ROOT without extension), in a fixed order. */
function collect(): Map<string, string> {
    const modules = new Map<string, string>();
    const visit = (id: string) => {
        if (modules.has(id)) return;
        const file = path.join(ROOT, `${id}.ts`);
        const code = transpile(file);
        modules.set(id, code);
        for (const m of code.matchAll(/require\("(\.{1,2}\/[^"]+)"\)/g)) {
            visit(path.posix.normalize(path.posix.join(path.posix.dirname(id), m[1])));
        }
    };
    visit(ENTRY);
    return new Map([...modules].sort(([a], [b]) => a.localeCompare(b)));
}

let cached: string | undefined;

/**
 * The orchestrator's JavaScript text: its modules, a loader that resolves their relative requires
 * among them (anything else, Node's own modules and zod, from Node), and the call of the entry.
 */
export function orchestratorScript(): string {
    if (cached !== undefined) return cached;
    const parts = [
        `"use strict";`,
        `// release-hosts, the blue-green orchestrator (components/deploy/orchestrator), as one text.`,
        `const modules = {};`,
    ];
    for (const [id, code] of collect()) {
        parts.push(
            `modules[${JSON.stringify(id)}] = function (exports, require, module, __filename, __dirname) {\n${code}\n};`,
        );
    }
    parts.push(`const cache = {};
const load = (id) => {
    if (cache[id]) return cache[id].exports;
    const module = (cache[id] = { exports: {} });
    const dir = id.split("/").slice(0, -1);
    const local = (request) => {
        if (!request.startsWith(".")) return require(request);
        const parts = [...dir];
        for (const p of request.split("/")) {
            if (p === "..") parts.pop();
            else if (p !== ".") parts.push(p);
        }
        const target = parts.join("/");
        if (!modules[target]) throw new Error("orchestrator: no module " + target);
        return load(target);
    };
    modules[id](module.exports, local, module, id, dir.join("/"));
    return module.exports;
};
load(${JSON.stringify(ENTRY)}).runCli().catch((e) => {
    process.stderr.write("release-hosts: error: " + (e && e.stack ? e.stack : String(e)) + "\\n");
    process.exitCode = 1;
});
`);
    cached = parts.join("\n");
    return cached;
}
