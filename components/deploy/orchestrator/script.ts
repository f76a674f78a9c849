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
 * - It runs on the Node that runs the Pulumi program (`node` on PATH). The text is plain CommonJS,
 *   bundled from the TypeScript sources here at program start by esbuild (which also bundles the
 *   program itself: program-loader.js), so it does not depend on Node's type
 *   stripping nor on `--input-type=module-typescript` (which cannot import the shared modules from
 *   stdin). The shared modules (patterns.ts, host-commands.ts, summary.ts) are in the bundle, so
 *   the orchestrator and the component judge every value by the same code.
 * - zod is `require`d at run time: a script read from stdin resolves packages from the working
 *   directory, which for a local Command is the project's directory (where Pulumi.yaml is); its
 *   node_modules are the ones the program itself runs from.
 * Not a dynamic provider: its code would be serialized into the state with every closure it
 * captures, and its secrets handling is the program's own to get right; @pulumi/command's
 * environment secret is the documented way.
 */
import { buildSync } from "esbuild";
import * as path from "path";
import { projectDir } from "../../../project";

/** The directory the orchestrator's modules are named from (components/deploy). */
const ROOT = path.join(projectDir, "components", "deploy");

let cached: string | undefined;

/**
 * The orchestrator's JavaScript text: orchestrator/cli.ts and every module of this project it
 * imports, in one CommonJS text (Node's own modules and zod are `require`d at run time), and the
 * call of its entry.
 */
export function orchestratorScript(): string {
    if (cached !== undefined) return cached;
    const built = buildSync({
        stdin: {
            contents: `import { runCli } from "./orchestrator/cli";
runCli().catch((e) => {
    process.stderr.write("release-hosts: error: " + (e && e.stack ? e.stack : String(e)) + "\\n");
    process.exitCode = 1;
});`,
            resolveDir: ROOT,
            sourcefile: "release-hosts.ts",
            loader: "ts",
        },
        absWorkingDir: ROOT,
        bundle: true,
        external: ["zod"],
        platform: "node",
        format: "cjs",
        target: "node24",
        legalComments: "none",
        write: false,
    });
    cached = `"use strict";\n// release-hosts, the blue-green orchestrator (components/deploy/orchestrator), as one text.\n${built.outputFiles[0].text}`;
    return cached;
}
