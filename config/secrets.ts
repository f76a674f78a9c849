/**
 * The secrets as the program reads them from config: required, stored as secrets, in their format.
 * The table of secrets (config key, GitHub name, scope, description) is config/secret-table.ts,
 * re-exported here.
 */
import * as pulumi from "@pulumi/pulumi";
import { SecretConfigKey, secretConfigKeys, SecretSpec, secretTable } from "./secret-table";
import type { RawConfig } from "./types";

// The table has no dependencies of its own, so that the policy pack loads it cheaply.
export * from "./secret-table";

/** Secret values, each an Output marked secret. */
export type Secrets = { readonly [K in SecretConfigKey]?: pulumi.Output<string> };

/** The command that sets a secret; it prompts for the value, so the value stays out of shell history. */
export function setSecretCommand(stack: string, key: SecretConfigKey): string {
    const spec: SecretSpec = secretTable[key];
    return `pulumi config set --secret -s ${stack} ${key}` + (spec.fromFile ? ` < ${spec.fromFile}` : "");
}

/**
 * The GitHub provider's token key. Refused: a token stored in a stack reaches every job that can
 * decrypt the stack, and a personal access token every repository its owner can reach.
 */
export const githubTokenKey = "github:token";

/**
 * Reads the secrets from the raw config: each required one must be set, as a secret (unless the
 * table allows plaintext), in its format. Missing ones are not errors when `requireSecrets` is false.
 */
export function readSecrets(
    raw: RawConfig,
    required: ReadonlySet<SecretConfigKey>,
    requireSecrets: boolean,
): { secrets: Secrets; problems: string[] } {
    const problems: string[] = [];
    const secrets: Record<string, pulumi.Output<string>> = {};
    for (const key of secretConfigKeys) {
        const spec: SecretSpec = secretTable[key];
        const fullKey = `${raw.project}:${key}`;
        const value = raw.values[fullKey];
        const fix = setSecretCommand(raw.stack, key);
        if (value === undefined || value === "") {
            if (required.has(key) && requireSecrets) {
                problems.push(`${fullKey}: is required (${spec.description}). Fix: ${fix}`);
            }
            continue;
        }
        if (!raw.secretKeys.has(fullKey) && !spec.plaintextAllowed) {
            problems.push(
                `${fullKey}: is stored in plaintext but must be a secret. Fix: pulumi config rm -s ${raw.stack} ${key} && ${fix}`,
            );
            continue;
        }
        if (spec.format && !spec.format.pattern.test(value)) {
            problems.push(`${fullKey}: ${spec.format.problem}. Fix: ${fix}`);
            continue;
        }
        secrets[key] = pulumi.secret(value);
    }
    const token = raw.values[githubTokenKey];
    if (token !== undefined && token !== "") {
        problems.push(
            `${githubTokenKey}: a GitHub token in the stack config is refused: whoever can decrypt the stack (every job holding ` +
                `its passphrase) could use it, and a personal access token reaches every repository of its owner. ` +
                `Fix: pulumi config rm -s ${raw.stack} ${githubTokenKey}; run pulumi up with your own token instead: ` +
                `GITHUB_TOKEN=$(gh auth token) pulumi up -s ${raw.stack} (the workflows mint short-lived GitHub App tokens)`,
        );
    }
    return { secrets, problems };
}
