/**
 * The bash and Python of the workflows' run: steps live in components/workflows/scripts/ as real
 * files, checked where they are by shellcheck, flake8 and black (test/unit/workflow-script-files.test.ts),
 * and are inlined here when the workflow files are rendered.
 *
 * Run-time values reach a script only through its step's env:. A few render-time constants of the
 * model (a pattern, a file name) replace @NAME@ placeholders, so each is still written once, here
 * in TypeScript; every placeholder must be given, and every given constant must be used.
 */
import * as fs from "fs";
import * as path from "path";
import { projectDir } from "../../project";

/** Where the script files are. */
export const scriptsDir = path.join(projectDir, "components", "workflows", "scripts");

/** black's pragmas, which a script may need where the rendered text must keep its layout. */
const formatterPragmas = new Set(["# fmt: off", "# fmt: on"]);

/**
 * The text of a script as a run: step holds it: without its header (the shebang and the comment
 * lines up to the first blank line, which document the file) and black's pragmas, with its
 * placeholders replaced.
 */
export function scriptText(file: string, constants: Readonly<Record<string, string>> = {}): string {
    const full = fs.readFileSync(path.join(scriptsDir, file), "utf8");
    const headerEnd = full.indexOf("\n\n");
    if (!full.startsWith("#!") || headerEnd < 0) {
        throw new Error(`${file}: must start with a shebang and a comment header ending in a blank line`);
    }
    const body = full
        .slice(headerEnd + 2)
        .split("\n")
        .filter((line) => !formatterPragmas.has(line))
        .join("\n");
    const used = new Set<string>();
    const text = body.replace(/@([A-Z][A-Z0-9_]*)@/g, (_, name: string) => {
        if (!(name in constants)) throw new Error(`${file}: no value for the placeholder @${name}@`);
        used.add(name);
        return constants[name];
    });
    const unused = Object.keys(constants).filter((k) => !used.has(k));
    if (unused.length > 0)
        throw new Error(`${file}: has no placeholder ${unused.map((k) => `@${k}@`).join(", ")}`);
    return text;
}

/** Lines that run a Python script from the scripts folder with `command`, the script in a quoted heredoc. */
export function pythonHeredoc(command: string, file: string): string {
    return `${command} <<'PY'\n${scriptText(file).trimEnd()}\nPY\n`;
}
