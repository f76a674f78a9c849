/** Reading committed stack files (Pulumi.<stack>.yaml) as the Pulumi runtime would hand them to the program. */
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import type { RawConfig } from "./types";
import { projectDir } from "../project";

/**
 * Reads a committed Pulumi.<stack>.yaml as the runtime would see it: objects as JSON, `secure:`
 * values marked secret (their ciphertext is kept as the value; nothing here decrypts it).
 * `overrides` replace or add keys, for example test values of secrets.
 */
export function readStackFile(
    stack: string,
    options: { dir?: string; overrides?: Record<string, { value: string; secret?: boolean }> } = {},
): RawConfig {
    const dir = options.dir ?? projectDir;
    const project = YAML.parse(fs.readFileSync(path.join(dir, "Pulumi.yaml"), "utf8")).name as string;
    const file = YAML.parse(fs.readFileSync(path.join(dir, `Pulumi.${stack}.yaml`), "utf8")) ?? {};
    const values: Record<string, string> = {};
    const secretKeys = new Set<string>();
    for (const [key, value] of Object.entries<unknown>(file.config ?? {})) {
        const fullKey = key.includes(":") ? key : `${project}:${key}`;
        if (value !== null && typeof value === "object" && "secure" in value) {
            values[fullKey] = String((value as { secure: unknown }).secure);
            secretKeys.add(fullKey);
        } else {
            values[fullKey] = typeof value === "string" ? value : JSON.stringify(value);
        }
    }
    for (const [key, { value, secret }] of Object.entries(options.overrides ?? {})) {
        const fullKey = key.includes(":") ? key : `${project}:${key}`;
        values[fullKey] = value;
        if (secret) secretKeys.add(fullKey);
        else secretKeys.delete(fullKey);
    }
    return { project, stack, values, secretKeys };
}

/** Stacks with a committed Pulumi.<stack>.yaml in `dir`. */
export function committedStacks(dir: string): string[] {
    return fs
        .readdirSync(dir)
        .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
        .filter((s): s is string => s !== undefined)
        .sort();
}
